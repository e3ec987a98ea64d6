"""Uploaded files of ``file`` sources, in Supabase Storage's private ``knowledge`` bucket.

Objects live at ``<organization id>/<source id>/<file name>`` (the source's generated
``storage_path``); storage RLS on ``storage.objects`` admits the organization's members to read and
its editors to upload, keyed on that first segment. People upload with their own token (supabase-js,
or a POST to the URL the API returns); the ingestion worker downloads with supabase-py's Storage
client (``storage3``) as the service role, and removes a deleted source's object (a ``remove_file``
job the delete queues after it commits, retried until Storage answers). HTTP functions never import
this module: ``storage3`` is in the LLM layer only (README "Knowledge base")."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from shared.errors import ConfigurationError, UpstreamUnavailable
from shared.knowledge.models import MAX_FILE_BYTES
from shared.settings import get_settings

# Secrets this module reads (shared/settings.py: require_used_secrets, and the serverless.yml test).
SECRETS_USED = ("supabase_service_role_key",)
BUCKET = "knowledge"

if TYPE_CHECKING:
    from storage3 import AsyncStorageClient


class FileMissing(Exception):
    """The source's object is not in Storage (not uploaded yet, or removed)."""


def _client() -> AsyncStorageClient:
    """supabase-py's Storage client as the service role."""
    from storage3 import AsyncStorageClient

    settings = get_settings()
    if settings.supabase_service_role_key is None:
        raise ConfigurationError("SUPABASE_SERVICE_ROLE_KEY is required to read and remove uploaded files")
    key = settings.supabase_service_role_key.get_secret_value()
    return AsyncStorageClient(settings.storage_url + "/", {"apikey": key, "Authorization": f"Bearer {key}"})


async def download(path: str) -> bytes:
    """The bytes of ``path`` in the knowledge bucket; ``FileMissing`` when there is no such object."""
    from storage3.exceptions import StorageApiError

    async with _client() as client:
        try:
            return await client.from_(BUCKET).download(path)
        except StorageApiError as exc:
            if str(exc.status) in {"400", "404"}:
                raise FileMissing(path) from exc
            raise UpstreamUnavailable(f"storage answered {exc.status}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("storage unavailable") from exc


async def remove(path: str) -> int:
    """Remove ``path`` from the knowledge bucket: how many objects went (0 when it was already gone).

    ``UpstreamUnavailable`` when Storage does not answer or refuses, so the queue retries the job.
    """
    from storage3.exceptions import StorageApiError

    async with _client() as client:
        try:
            removed = await client.from_(BUCKET).remove([path])
        except StorageApiError as exc:
            raise UpstreamUnavailable(f"storage answered {exc.status}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("storage unavailable") from exc
    return len(removed)


class FileRejected(ValueError):
    """The uploaded file cannot be indexed as it is; the message is the source's problem."""


_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
}


async def fetch(path: str, media_type: str) -> bytes:
    """The uploaded file of a source, checked: present, at most ``MAX_FILE_BYTES``, and of the declared type
    (a PDF starts with ``%PDF-``, a DOCX is a ZIP; text types are checked when decoded)."""
    try:
        data = await download(path)
    except FileMissing as exc:
        raise FileRejected(f"the file has not been uploaded: upload it to {BUCKET}/{path}, then re-index") from exc
    if len(data) > MAX_FILE_BYTES:
        raise FileRejected(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    if not data:
        raise FileRejected("the document has no text")
    magic = _MAGIC.get(media_type)
    if magic is not None and not data.startswith(magic):
        raise FileRejected(f"the file is not a {media_type} file")
    return data
