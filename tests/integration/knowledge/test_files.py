"""File sources: declared through the API (413 and 415 problems), uploaded to Supabase Storage with the
member's own token (the local stand-in enforces the storage RLS policies of the migrations), downloaded by
the ingestion worker with supabase-py's Storage client, extracted, indexed; bad files end ``failed``."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from storage3 import SyncStorageClient
from storage3.exceptions import StorageApiError

from bench.knowledge.pdf import build_pdf
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MANUAL = "# Manual do proprietário\n\n## Garagem\n\nCada apartamento tem duas vagas cobertas no subsolo.\n"


def _declare(
    api: LambdaApi, org: dict[str, Any], name: str, media_type: str, size: int, role: str = "editor", **extra: Any
) -> Any:
    body = {"kind": "file", "title": "Manual", "file_name": name, "media_type": media_type, "size": size, **extra}
    return api.call("POST", f"/organizations/{org['id']}/knowledge/sources", token=org[role].token, body=body)


def _as(url: str, member: Any, operation: str, *args: Any) -> Any:
    """One operation on the knowledge bucket with supabase-py's Storage client, as ``member``."""
    headers = {"apikey": member.token, "Authorization": f"Bearer {member.token}"}
    with SyncStorageClient(url + "/", headers) as client:
        return getattr(client.from_("knowledge"), operation)(*args)


def _upload(storage: str, member: Any, path: str, data: bytes, media_type: str, upsert: bool = False) -> Any:
    options = {"content-type": media_type, **({"upsert": "true"} if upsert else {})}
    return _as(storage, member, "upload", path, data, options)


def _reindex(api: LambdaApi, org: dict[str, Any], source_id: str) -> dict[str, Any]:
    response = api.call("POST", f"/knowledge/sources/{source_id}/reindex", token=org["editor"].token)
    assert response.status in (200, 202), response.body
    return dict(response.json())


def _get(api: LambdaApi, org: dict[str, Any], source_id: str) -> dict[str, Any]:
    response = api.call("GET", f"/knowledge/sources/{source_id}", token=org["viewer"].token)
    assert response.status == 200, response.body
    return dict(response.json())


def _indexed(
    api: LambdaApi,
    org: dict[str, Any],
    storage: str,
    ingest: Callable[[], int],
    name: str,
    data: bytes,
    media_type: str,
) -> dict[str, Any]:
    """Declare, upload, re-index and run the worker: the source as the API then shows it."""
    declared = _declare(api, org, name, media_type, len(data))
    assert declared.status == 202, declared.body
    source = declared.json()
    _upload(storage, org["editor"], source["upload"]["path"], data, media_type)
    _reindex(api, org, source["id"])
    assert ingest() == 1
    return _get(api, org, source["id"])


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("segredo")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _docx(text: str) -> bytes:
    from docx import Document

    document = Document()
    document.add_heading("Garagem", level=1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_pdf_is_declared_uploaded_with_the_members_token_and_indexed_by_the_worker(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], storage: str
) -> None:
    # given an editor who declares a PDF source
    org = make_org()
    data = build_pdf(40_000)
    declared = _declare(api, org, "manual.pdf", PDF, len(data))
    assert declared.status == 202, declared.body
    source = declared.json()
    # then it waits for its file: pending, nothing queued, and the answer says where the file goes
    assert (source["kind"], source["status"], source["size"]) == ("file", "pending", len(data))
    assert source["upload"]["path"] == f"{org['id']}/{source['id']}/manual.pdf"
    assert source["upload"]["url"] == f"{storage}/object/knowledge/{source['upload']['path']}"
    assert ingest() == 0
    # when the editor uploads it with their own token and asks for indexing
    _upload(storage, org["editor"], source["upload"]["path"], data, PDF)
    _reindex(api, org, source["id"])
    assert ingest() == 1
    # then the worker downloaded and extracted it: ready, with chunks and a content hash
    ready = _get(api, org, source["id"])
    assert (ready["status"], ready["version"]) == ("ready", 1), ready
    assert ready["chunk_count"] > 0
    assert ready["content_hash"]


def test_uploading_the_same_content_again_changes_nothing_and_new_content_is_a_new_version(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], storage: str
) -> None:
    # given an indexed Markdown file
    org = make_org()
    first = _indexed(api, org, storage, ingest, "manual.md", MANUAL.encode(), "text/markdown")
    assert (first["status"], first["version"]) == ("ready", 1)
    path = f"{org['id']}/{first['id']}/manual.md"
    # when the same bytes are uploaded again (upsert) and re-indexed
    _upload(storage, org["editor"], path, MANUAL.encode(), "text/markdown", upsert=True)
    _reindex(api, org, first["id"])
    assert ingest() == 1
    # then nothing changed: same version, same hash
    again = _get(api, org, first["id"])
    assert (again["status"], again["version"], again["content_hash"]) == ("ready", 1, first["content_hash"])
    # and a changed file becomes version 2
    _upload(
        storage, org["editor"], path, (MANUAL + "\n## Pets\n\nCães são bem-vindos.\n").encode(), "text/markdown", True
    )
    _reindex(api, org, first["id"])
    assert ingest() == 1
    changed = _get(api, org, first["id"])
    assert (changed["status"], changed["version"]) == ("ready", 2)
    assert changed["content_hash"] != first["content_hash"]


@pytest.mark.parametrize(
    ("name", "media_type", "data"),
    [
        ("manual.docx", DOCX, _docx("Duas vagas cobertas no subsolo.")),
        ("manual.txt", "text/plain", b"Duas vagas cobertas no subsolo."),
        ("manual.html", "text/html", b"<html><body><h1>Garagem</h1><p>Duas vagas cobertas.</p></body></html>"),
    ],
)
def test_docx_txt_and_html_files_are_indexed(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    ingest: Callable[[], int],
    storage: str,
    name: str,
    media_type: str,
    data: bytes,
) -> None:
    # given a file of each other supported type / when it is uploaded and indexed / then it is ready
    source = _indexed(api, make_org(), storage, ingest, name, data, media_type)
    assert (source["status"], source["problem"], source["chunk_count"]) == ("ready", None, 1)


def test_an_oversized_file_is_a_413_problem_naming_the_size(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], storage: str
) -> None:
    # given an editor declaring a 21 MiB PDF / when they create the source
    response = _declare(api, make_org(), "big.pdf", PDF, 21 * 1024 * 1024)
    # then it is refused with a 413 problem that names the field
    assert response.status == 413, response.body
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "body.size" in response.json()["detail"]


def test_a_wrong_media_type_is_a_415_problem_naming_the_type(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], storage: str
) -> None:
    # given an editor declaring an executable / when they create the source
    response = _declare(api, make_org(), "setup.exe", "application/x-msdownload", 1000)
    # then it is refused with a 415 problem that names the field
    assert response.status == 415, response.body
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "body.media_type" in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "media_type", "data", "problem"),
    [
        ("cofre.pdf", PDF, _encrypted_pdf(), "the PDF is encrypted"),
        ("quebrado.pdf", PDF, b"%PDF-1.7\n this is not a PDF body at all", "the file is not a readable PDF"),
        ("falso.pdf", PDF, b"just text pretending to be a PDF", "the file is not a application/pdf file"),
        ("vazio.txt", "text/plain", b"   \n\n  ", "the document has no text"),
        ("falso.docx", DOCX, b"PK\x03\x04 not really a zip", "the file is not a readable DOCX document"),
    ],
)
def test_an_unreadable_file_ends_failed_with_a_problem_and_no_chunks(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    ingest: Callable[[], int],
    storage: str,
    name: str,
    media_type: str,
    data: bytes,
    problem: str,
) -> None:
    # given an uploaded file the worker cannot read / when it is indexed
    source = _indexed(api, make_org(), storage, ingest, name, data, media_type)
    # then the source is failed with a problem that says why, and nothing is indexed
    assert (source["status"], source["problem"], source["chunk_count"]) == ("failed", problem, 0)


def test_indexing_before_the_upload_fails_with_a_problem_naming_the_path(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], storage: str
) -> None:
    # given a declared file that was never uploaded
    org = make_org()
    source = _declare(api, org, "manual.pdf", PDF, 1000).json()
    # when indexing is asked for
    _reindex(api, org, source["id"])
    assert ingest() == 1
    # then the source fails, saying where to upload it
    failed = _get(api, org, source["id"])
    assert failed["status"] == "failed"
    assert source["upload"]["path"] in failed["problem"]


def test_storage_rls_keeps_another_tenant_and_viewers_out_of_an_organizations_files(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], storage: str
) -> None:
    # given A's declared file, uploaded by A's editor
    a, b = make_org(), make_org()
    source = _declare(api, a, "manual.md", "text/markdown", len(MANUAL)).json()
    path = source["upload"]["path"]
    # when A's viewer or B's owner try to upload to A's path / then Storage refuses them (storage RLS)
    for intruder in (a["viewer"], b["owner"]):
        with pytest.raises(StorageApiError) as refused:
            _upload(storage, intruder, path, b"# forged", "text/markdown")
        assert str(refused.value.status) == "403"
    _upload(storage, a["editor"], path, MANUAL.encode(), "text/markdown")
    # and an editor cannot put a file where no source of theirs says it goes
    with pytest.raises(StorageApiError):
        _upload(storage, a["editor"], f"{a['id']}/{b['id']}/stray.md", b"# stray", "text/markdown")
    # then A's viewer reads the file, and B's owner does not find it
    assert _as(storage, a["viewer"], "download", path) == MANUAL.encode()
    with pytest.raises(StorageApiError) as hidden:
        _as(storage, b["owner"], "download", path)
    assert str(hidden.value.status) == "404"
    # and B's owner cannot remove it, while A's editor can
    assert _as(storage, b["owner"], "remove", [path]) == []
    assert len(_as(storage, a["editor"], "remove", [path])) == 1


def test_the_bucket_refuses_oversized_and_unlisted_files_on_upload(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], storage: str
) -> None:
    # given a declared file whose upload ignores what was declared
    org = make_org()
    path = _declare(api, org, "manual.pdf", PDF, 1000).json()["upload"]["path"]
    # when more than the bucket's 20 MiB or a type it does not list is uploaded / then Storage refuses it
    with pytest.raises(StorageApiError) as big:
        _upload(storage, org["editor"], path, b"%PDF-" + b"0" * (20 * 1024 * 1024), PDF)
    assert str(big.value.status) == "413"
    with pytest.raises(StorageApiError) as kind:
        _upload(storage, org["editor"], path, b"MZ", "application/x-msdownload")
    assert str(kind.value.status) == "415"


def _service_download(storage: str, jwt_secret: str, path: str) -> bytes:
    """The object as the service role sees it (no storage RLS between it and the bucket)."""
    from local_runtime.dev_auth import service_role_key

    key = service_role_key(jwt_secret)
    with SyncStorageClient(storage + "/", {"apikey": key, "Authorization": f"Bearer {key}"}) as client:
        return bytes(client.from_("knowledge").download(path))


def _uploaded(api: LambdaApi, org: dict[str, Any], storage: str, jwt_secret: str) -> tuple[str, str]:
    """A declared TXT source with its file uploaded: (source id, object path)."""
    data = MANUAL.encode()
    declared = _declare(api, org, "manual.txt", "text/plain", len(data))
    assert declared.status == 202, declared.body
    source = declared.json()
    _upload(storage, org["editor"], source["upload"]["path"], data, "text/plain")
    assert _service_download(storage, jwt_secret, source["upload"]["path"]) == data
    return source["id"], source["upload"]["path"]


def test_deleting_a_file_source_removes_its_object_from_storage_once_the_worker_runs(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], storage: str, jwt_secret: str
) -> None:
    # given a file source whose file is uploaded
    org = make_org()
    source_id, path = _uploaded(api, org, storage, jwt_secret)
    # when an editor deletes the source
    response = api.call("DELETE", f"/knowledge/sources/{source_id}", token=org["editor"].token)
    assert response.status == 204, response.body
    # then the source is gone at once and its object once the worker has run its removal job
    assert api.call("GET", f"/knowledge/sources/{source_id}", token=org["viewer"].token).status == 404
    assert _service_download(storage, jwt_secret, path) == MANUAL.encode()
    assert ingest() == 1
    with pytest.raises(StorageApiError) as gone:
        _service_download(storage, jwt_secret, path)
    assert str(gone.value.status) in {"400", "404"}


def test_a_failed_removal_is_retried_by_the_queue_and_never_the_callers_error(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    ingest: Callable[[], int],
    attempt: Callable[[], int],
    storage: str,
    jwt_secret: str,
) -> None:
    from shared.settings import get_settings

    # given a file source whose file is uploaded
    org = make_org()
    source_id, path = _uploaded(api, org, storage, jwt_secret)
    # when it is deleted while the worker cannot reach Storage (a closed port)
    response = api.call("DELETE", f"/knowledge/sources/{source_id}", token=org["editor"].token)
    assert response.status == 204, response.body
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUPABASE_STORAGE_URL", "http://127.0.0.1:9/storage/v1")
        get_settings.cache_clear()
        # then the removal fails and its job stays on the queue
        assert attempt() == 1
    get_settings.cache_clear()
    assert _service_download(storage, jwt_secret, path) == MANUAL.encode()
    # and once Storage answers again the redelivered job removes the object
    assert ingest() == 1
    with pytest.raises(StorageApiError):
        _service_download(storage, jwt_secret, path)


def test_deleting_a_source_without_a_file_queues_no_removal(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], storage: str
) -> None:
    # given a file source declared but never uploaded, and a text source
    org = make_org()
    declared = _declare(api, org, "manual.txt", "text/plain", 10)
    assert declared.status == 202, declared.body
    text = api.call(
        "POST",
        f"/organizations/{org['id']}/knowledge/sources",
        token=org["editor"].token,
        body={"kind": "text", "title": "T", "content": "texto"},
    )
    assert text.status == 202, text.body
    assert ingest() == 1  # the text source's indexing
    # when both are deleted
    for source_id in (declared.json()["id"], text.json()["id"]):
        assert api.call("DELETE", f"/knowledge/sources/{source_id}", token=org["editor"].token).status == 204
    # then only the file source queues a removal, which finds nothing to remove and is done
    assert ingest() == 1
