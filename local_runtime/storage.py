"""A local stand-in for Supabase Storage: the REST endpoints supabase-py's Storage client and
supabase-js use for objects, backed by files on disk and by ``storage.objects`` rows in Postgres.

Each request runs as its token's role (``authenticated`` with the token's claims, or
``service_role``), so the storage RLS policies of the migrations decide who reads and writes, as on
Supabase. The bucket's ``file_size_limit`` (413) and ``allowed_mime_types`` (415) are enforced on
upload. Endpoints: upload (``POST``/``PUT /object/{bucket}/{path}``, raw body or multipart),
download (``GET /object/{bucket}/{path}``, also ``/object/authenticated/...``), remove
(``DELETE /object/{bucket}`` with ``{"prefixes": [...]}``). Served under ``/storage/v1`` by the
local gateway, and on a port of its own in tests (``serve_in_thread``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import psycopg
from psycopg import errors as pg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_INSERT = (
    "insert into storage.objects (bucket_id, name, owner, owner_id, metadata) values (%s, %s, %s, %s, %s::jsonb)"
    " returning id"
)
_UPSERT = _INSERT.replace(
    " returning id",
    " on conflict (bucket_id, name) do update set updated_at = now(), metadata = excluded.metadata returning id",
)


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"statusCode": str(status), "error": error, "message": message}, status_code=status)


@dataclass
class _Caller:
    role: str
    claims: dict[str, Any]


def create_storage_app(database_url: str, jwt_secret: str, root: Path) -> Starlette:
    """The stand-in's ASGI app; files under ``root/<bucket>/<path>``."""

    def caller(request: Request) -> _Caller | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(token, jwt_secret, algorithms=["HS256"], options={"verify_aud": False})
        except jwt.PyJWTError:
            return None
        role = claims.get("role")
        return _Caller(role, claims) if role in {"authenticated", "service_role"} else None

    def run(who: _Caller, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with psycopg.connect(database_url) as conn:
            conn.execute("select set_config('role', %s, true)", (who.role,))
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(who.claims),))
            cursor = conn.execute(sql.encode(), params)
            return cursor.fetchall() if cursor.description else []

    def file(bucket: str, name: str) -> Path:
        path = (root / bucket / name).resolve()
        if root.resolve() not in path.parents:
            raise ValueError(name)
        return path

    async def upload(request: Request) -> Response:
        who = caller(request)
        if who is None:
            return _error(400, "InvalidJWT", "invalid token")
        bucket, name = request.path_params["bucket"], request.path_params["name"]
        data, media_type = await _body(request)
        limits = run(who, "select file_size_limit, allowed_mime_types from storage.buckets where id = %s", (bucket,))
        if not limits:
            return _error(404, "Bucket not found", "Bucket not found")
        size_limit, types = limits[0]
        if size_limit is not None and len(data) > size_limit:
            return _error(413, "Payload too large", "The object exceeded the maximum allowed size")
        if types and media_type not in types:
            return _error(415, "invalid_mime_type", f"mime type {media_type} is not supported")
        upsert = request.method == "PUT" or request.headers.get("x-upsert", "false") == "true"
        metadata = json.dumps({"size": len(data), "mimetype": media_type})
        owner = who.claims.get("sub") if who.role == "authenticated" else None
        try:
            rows = run(who, _UPSERT if upsert else _INSERT, (bucket, name, owner, owner, metadata))
        except pg.UniqueViolation:
            return _error(409, "Duplicate", "The resource already exists")
        except pg.InsufficientPrivilege:
            return _error(403, "Unauthorized", "new row violates row-level security policy")
        if not rows:
            return _error(403, "Unauthorized", "new row violates row-level security policy")
        target = file(bucket, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return JSONResponse({"Key": f"{bucket}/{name}", "Id": str(rows[0][0])})

    async def download(request: Request) -> Response:
        who = caller(request)
        if who is None:
            return _error(400, "InvalidJWT", "invalid token")
        bucket, name = request.path_params["bucket"], request.path_params["name"]
        rows = run(who, "select metadata from storage.objects where bucket_id = %s and name = %s", (bucket, name))
        target = file(bucket, name)
        if not rows or not target.exists():
            return _error(404, "not_found", "Object not found")
        media_type = (rows[0][0] or {}).get("mimetype", "application/octet-stream")
        return Response(target.read_bytes(), media_type=media_type)

    async def remove(request: Request) -> Response:
        who = caller(request)
        if who is None:
            return _error(400, "InvalidJWT", "invalid token")
        bucket = request.path_params["bucket"]
        prefixes = list((await request.json()).get("prefixes", []))
        rows = run(
            who,
            "delete from storage.objects where bucket_id = %s and name = any(%s) returning name",
            (bucket, prefixes),
        )
        for (name,) in rows:
            file(bucket, name).unlink(missing_ok=True)
        return JSONResponse([{"name": name, "bucket_id": bucket} for (name,) in rows])

    return Starlette(
        routes=[
            Route("/object/authenticated/{bucket}/{name:path}", download, methods=["GET"]),
            Route("/object/{bucket}/{name:path}", upload, methods=["POST", "PUT"]),
            Route("/object/{bucket}/{name:path}", download, methods=["GET"]),
            Route("/object/{bucket}", remove, methods=["DELETE"]),
        ]
    )


async def _body(request: Request) -> tuple[bytes, str]:
    """The file and its type: a multipart part named ``file`` (storage3), or the raw body (supabase-js, curl)."""
    content_type = request.headers.get("content-type", "application/octet-stream")
    if content_type.startswith("multipart/form-data"):
        async with request.form() as form:
            part = form.get("file")
            if part is not None and not isinstance(part, str):
                return await part.read(), (part.content_type or "application/octet-stream").split(";")[0]
        return b"", "application/octet-stream"
    return await request.body(), content_type.split(";")[0].strip()


@dataclass
class StorageServer:
    """The stand-in on a loopback port of its own."""

    url: str
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


def serve_in_thread(database_url: str, jwt_secret: str, root: Path) -> StorageServer:
    """Serve the stand-in on a free loopback port in a background thread; its URL ends in ``/storage/v1``."""
    import socket

    import uvicorn
    from starlette.routing import Mount

    app = Starlette(routes=[Mount("/storage/v1", create_storage_app(database_url, jwt_secret, root))])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="storage-stand-in", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.01)
    return StorageServer(url=f"http://127.0.0.1:{port}/storage/v1", _server=server, _thread=thread)
