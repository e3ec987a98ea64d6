"""Knowledge sources through the real handlers and the real ingestion worker: statuses, versions, bad input."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from shared.knowledge import fetch
from tests.integration.knowledge.conftest import new_agent
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration
FAQ = [
    {"question": "O apartamento tem garagem?", "answer": "Sim, duas vagas de garagem cobertas no subsolo."},
    {"question": "Aceitam animais de estimação?", "answer": "Sim, o condomínio aceita pets de pequeno porte."},
    {"question": "Qual o valor do condomínio?", "answer": "O condomínio custa R$ 850 por mês, com água inclusa."},
]


def _create(api: LambdaApi, org: dict[str, Any], body: dict[str, Any], role: str = "editor") -> Any:
    return api.call("POST", f"/organizations/{org['id']}/knowledge/sources", token=org[role].token, body=body)


def _get(api: LambdaApi, org: dict[str, Any], source_id: str) -> dict[str, Any]:
    response = api.call("GET", f"/knowledge/sources/{source_id}", token=org["viewer"].token)
    assert response.status == 200, response.body
    return dict(response.json())


def _chunks(database_url: str, source_id: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select version, heading_path, content from public.knowledge_chunks where document_id = %s"
            " order by version, chunk_index",
            (source_id,),
        ).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def test_an_faq_is_indexed_by_the_worker_one_chunk_per_question_with_usage_recorded(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], database_url: str
) -> None:
    # given an editor's FAQ source
    org = make_org()
    created = _create(api, org, {"kind": "faq", "title": "Perguntas", "faq": FAQ})
    assert created.status == 202, created.body
    assert created.json()["status"] == "pending"
    # when the worker runs
    assert ingest() == 1
    # then the source is ready at version 1 with one chunk per question, and the embedding cost is in the ledger
    source = _get(api, org, created.json()["id"])
    assert (source["status"], source["version"], source["chunk_count"]) == ("ready", 1, 3)
    assert source["content_hash"]
    assert source["embedding_model"] == "embed"
    assert next(path for _, path, _ in _chunks(database_url, source["id"])) == "Perguntas > O apartamento tem garagem?"
    with psycopg.connect(database_url) as conn:
        usage = conn.execute(
            "select alias, tokens_in from public.llm_usage where organization_id = %s", (org["id"],)
        ).fetchall()
    assert len(usage) == 1
    assert usage[0][0] == "embed"
    assert usage[0][1] > 0


def test_reindexing_unchanged_content_keeps_the_version(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], database_url: str
) -> None:
    # given an indexed FAQ
    org = make_org()
    source_id = _create(api, org, {"kind": "faq", "title": "Perguntas", "faq": FAQ}).json()["id"]
    ingest()
    before = _chunks(database_url, source_id)
    # when it is re-indexed with the same content
    response = api.call("POST", f"/knowledge/sources/{source_id}/reindex", token=org["editor"].token)
    assert response.status == 202, response.body
    ingest()
    # then nothing changed: same version, same chunks
    assert _get(api, org, source_id)["version"] == 1
    assert _chunks(database_url, source_id) == before


def test_changed_content_becomes_a_new_version_and_the_old_chunks_go(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], database_url: str
) -> None:
    # given an indexed text source
    org = make_org()
    body = {"kind": "text", "title": "Planos", "content": "# Planos\n\n## Básico\n\nO plano Básico custa R$ 49."}
    source_id = _create(api, org, body).json()["id"]
    ingest()
    # when its content changes
    changed = "# Planos\n\n## Pro\n\nO plano Pro custa R$ 99 e inclui suporte 24 horas."
    token = org["editor"].token
    response = api.call("PATCH", f"/knowledge/sources/{source_id}", token=token, body={"content": changed})
    assert response.status == 200, response.body
    assert response.json()["status"] == "pending"
    assert response.json()["version"] == 1
    ingest()
    # then version 2 is served and only its chunks remain
    assert _get(api, org, source_id)["version"] == 2
    assert _chunks(database_url, source_id) == [(2, "Planos > Pro", changed.split("\n\n")[-1])]


@pytest.mark.parametrize("attached", [False, True], ids=["every agent", "one agent"])
def test_a_create_retried_with_its_key_makes_one_source_indexed_once(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    ingest: Callable[[], int],
    database_url: str,
    attached: bool,
) -> None:
    # given an FAQ source added with an Idempotency-Key (for every agent: one script; for one agent: a transaction)
    org = make_org()
    body: dict[str, Any] = {"kind": "faq", "title": "Perguntas", "faq": FAQ}
    if attached:
        body["agent_ids"] = [new_agent(database_url, org["id"])]
    path, headers = f"/organizations/{org['id']}/knowledge/sources", {"Idempotency-Key": str(uuid.uuid4())}
    first = api.call("POST", path, token=org["editor"].token, body=body, headers=headers)
    assert first.status == 202, first.body
    # when the same request is sent again (its answer was lost, say)
    again = api.call("POST", path, token=org["editor"].token, body=body, headers=headers)
    # then the same answer, one source, and it is indexed once
    assert again.status == 202, again.body
    assert again.json() == first.json()
    with psycopg.connect(database_url) as conn:
        made = conn.execute(
            "select id::text from public.knowledge_documents where organization_id = %s", (org["id"],)
        ).fetchall()
    assert made == [(first.json()["id"],)]
    ingest()
    source = _get(api, org, first.json()["id"])
    assert (source["status"], source["version"], source["chunk_count"]) == ("ready", 1, 3)
    assert len(_chunks(database_url, source["id"])) == 3


def test_a_viewer_cannot_add_a_source(api: LambdaApi, make_org: Callable[[], dict[str, Any]]) -> None:
    # given a viewer / when they add a source / then it is refused
    org = make_org()
    response = _create(api, org, {"kind": "text", "title": "X", "content": "texto"}, role="viewer")
    assert response.status == 403, response.body


def test_another_tenants_source_is_not_found(api: LambdaApi, make_org: Callable[[], dict[str, Any]]) -> None:
    # given a source of A
    a, b = make_org(), make_org()
    source_id = _create(api, a, {"kind": "text", "title": "X", "content": "texto"}).json()["id"]
    # when B's owner reads or deletes it / then it is not found
    assert api.call("GET", f"/knowledge/sources/{source_id}", token=b["owner"].token).status == 404
    assert api.call("DELETE", f"/knowledge/sources/{source_id}", token=b["owner"].token).status == 404


def test_content_of_the_wrong_kind_is_a_422_naming_the_field(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]]
) -> None:
    # given an FAQ source
    org = make_org()
    source_id = _create(api, org, {"kind": "faq", "title": "Perguntas", "faq": FAQ}).json()["id"]
    # when an editor sends text content for it
    response = api.call("PATCH", f"/knowledge/sources/{source_id}", token=org["editor"].token, body={"content": "x"})
    # then it is refused, naming the field
    assert response.status == 422, response.body
    assert "body.content" in response.body


def test_an_unknown_kind_is_a_422(api: LambdaApi, make_org: Callable[[], dict[str, Any]]) -> None:
    org = make_org()
    response = _create(api, org, {"kind": "video", "title": "X"})
    assert response.status == 422, response.body


def test_a_document_without_text_fails_with_a_problem(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], database_url: str
) -> None:
    # given a text source of blanks
    org = make_org()
    source_id = _create(api, org, {"kind": "text", "title": "Vazio", "content": "  \n\n  "}).json()["id"]
    # when the worker runs
    ingest()
    # then it failed, said why, and nothing was indexed
    source = _get(api, org, source_id)
    assert (source["status"], source["problem"], source["version"]) == ("failed", "the document has no text", 0)
    assert _chunks(database_url, source_id) == []


def test_a_url_at_a_private_address_fails_with_a_problem(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int]
) -> None:
    # given a web page source on a private network
    org = make_org()
    source_id = _create(api, org, {"kind": "url", "title": "Intranet", "url": "http://10.0.0.7/precos"}).json()["id"]
    # when the worker runs / then it never connects, and the source failed naming the reason
    ingest()
    source = _get(api, org, source_id)
    assert source["status"] == "failed"
    assert "public" in source["problem"]


def test_a_web_page_is_fetched_and_indexed_by_its_headings(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    ingest: Callable[[], int],
    database_url: str,
    pages: tuple[str, dict[str, tuple[int, str, bytes, float]]],
) -> None:
    # given a page on a (loopback, test-only) web server
    base, routes = pages
    html = "<html><head><script>x()</script></head><body><h1>Lazer</h1><p>Piscina aquecida e academia.</p></body>"
    routes["/lazer"] = (200, "text/html; charset=utf-8", html.encode(), 0.0)
    org = make_org()
    source_id = _create(api, org, {"kind": "url", "title": "Lazer", "url": f"{base}/lazer"}).json()["id"]
    # when the worker runs
    ingest()
    # then the page's text is indexed under its heading, without its scripts
    assert _get(api, org, source_id)["status"] == "ready"
    assert _chunks(database_url, source_id) == [(1, "Lazer", "Piscina aquecida e academia.")]


def test_a_slow_server_fails_with_a_problem(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    ingest: Callable[[], int],
    pages: tuple[str, dict[str, tuple[int, str, bytes, float]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a page that answers after the fetch's time limit
    base, routes = pages
    routes["/lenta"] = (200, "text/html", b"<p>tarde</p>", 1.0)
    monkeypatch.setattr(fetch, "TIMEOUT_SECONDS", 0.2)
    org = make_org()
    source_id = _create(api, org, {"kind": "url", "title": "Lenta", "url": f"{base}/lenta"}).json()["id"]
    # when the worker runs / then the source failed, saying the server did not answer in time
    ingest()
    source = _get(api, org, source_id)
    assert source["status"] == "failed"
    assert "no answer within" in source["problem"]


def test_a_page_of_the_wrong_media_type_fails_with_a_problem(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    ingest: Callable[[], int],
    pages: tuple[str, dict[str, tuple[int, str, bytes, float]]],
) -> None:
    base, routes = pages
    routes["/foto"] = (200, "image/png", b"\x89PNG", 0.0)
    org = make_org()
    source_id = _create(api, org, {"kind": "url", "title": "Foto", "url": f"{base}/foto"}).json()["id"]
    ingest()
    source = _get(api, org, source_id)
    assert source["status"] == "failed"
    assert "unsupported content type" in source["problem"]


def test_an_exhausted_budget_fails_the_source_and_indexes_nothing(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], database_url: str
) -> None:
    # given an organization with no budget left
    org = make_org()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("update public.budgets set monthly_limit_usd = 0 where organization_id = %s", (org["id"],))
    source_id = _create(api, org, {"kind": "faq", "title": "Perguntas", "faq": FAQ}).json()["id"]
    # when the worker runs / then the source failed on the budget, with no chunks
    ingest()
    source = _get(api, org, source_id)
    assert source["status"] == "failed"
    assert "budget" in source["problem"]
    assert _chunks(database_url, source_id) == []
