"""``python -m local_runtime``: run the whole system locally, or mint a dev token."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SUPABASE_URL = "http://127.0.0.1:54321"
DEMO_EMAIL = "demo@example.com"
DATABASE_NAME = "conversion_agents"
WEBHOOK_SECRETS = ("whatsapp_verify_token", "whatsapp_app_secret", "hubspot_client_secret")


@dataclass
class Runtime:
    """What ``up`` started, saved to ``<data>/runtime.json`` for the other commands."""

    database_url: str
    redis_url: str
    upstash_url: str
    upstash_token: str
    jwt_secret: str
    supabase_url: str
    port: int
    # The local Storage stand-in (local_runtime/storage.py) and the service-role key it accepts.
    storage_url: str = ""
    service_role_key: str = ""
    # The inbound webhooks' secrets, random per data folder, so they can be tried locally.
    webhook_secrets: dict[str, str] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"{self.supabase_url}/auth/v1"

    def environment(self) -> dict[str, str]:
        """The environment every function gets, as in a deployed stage."""
        return {
            "APP_ENV": "dev",
            "DATABASE_URL": self.database_url,
            "SUPABASE_URL": self.supabase_url,
            "SUPABASE_JWT_SECRET": self.jwt_secret,
            **({"SUPABASE_STORAGE_URL": self.storage_url} if self.storage_url else {}),
            **({"SUPABASE_SERVICE_ROLE_KEY": self.service_role_key} if self.service_role_key else {}),
            "UPSTASH_REDIS_REST_URL": self.upstash_url,
            "UPSTASH_REDIS_REST_TOKEN": self.upstash_token,
            "POWERTOOLS_SERVICE_NAME": "conversion-agents-local",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "ConversionAgentsLocal",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_CUSTOM_PROVIDER": "local_runtime.model.local_model",
            **{name.upper(): value for name, value in self.webhook_secrets.items()},
        }


DEFAULT_DATA_DIR = REPO / ".data"
# Where ``up`` notes the runtime file of the data folder it runs with, so ``token`` finds it from any shell.
CURRENT_RUNTIME = DEFAULT_DATA_DIR / "current-runtime"


def data_dir() -> Path:
    """Where local data lives between runs (``CA_DATA_DIR``, default ``.data``)."""
    path = Path(os.environ.get("CA_DATA_DIR", DEFAULT_DATA_DIR)).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_runtime() -> tuple[Path | None, list[Path]]:
    """The running runtime's state file, and every place looked in: this shell's data folder, then
    the one the last ``up`` noted (it may run under another ``CA_DATA_DIR``)."""
    looked = [data_dir() / "runtime.json"]
    if CURRENT_RUNTIME.exists():
        noted = Path(CURRENT_RUNTIME.read_text().strip())
        if noted not in looked:
            looked.append(noted)
    return next((path for path in looked if path.exists()), None), looked


def _dev_secrets(root: Path) -> dict[str, str]:
    """Random secrets generated on first run and kept, so tokens survive restarts."""
    path = root / "secrets.json"
    values: dict[str, str] = dict(json.loads(path.read_text())) if path.exists() else {}
    wanted = ("jwt_secret", "upstash_token", *WEBHOOK_SECRETS)
    if all(name in values for name in wanted):
        return values
    for name in wanted:
        values.setdefault(name, secrets.token_urlsafe(48 if name == "jwt_secret" else 24))
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


@contextlib.contextmanager
def services(root: Path, port: int) -> Iterator[Runtime]:
    """Start Postgres, Redis and the Upstash bridge (or use DATABASE_URL / REDIS_URL)."""
    from local_runtime.migrate import apply_migrations
    from local_runtime.postgres import start_postgres
    from local_runtime.upstash_bridge import serve_in_thread

    dev = _dev_secrets(root)
    with contextlib.ExitStack() as stack:
        pg = start_postgres(root / "postgres")
        stack.callback(pg.stop)
        database_url = pg.ensure_database(DATABASE_NAME) if pg.embedded else pg.url
        apply_migrations(database_url, seed=True)
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            from local_runtime.redis_server import start_redis

            redis = start_redis(root / "redis")
            stack.callback(redis.stop)
            redis_url = redis.url
        bridge = serve_in_thread(redis_url, dev["upstash_token"])
        stack.callback(bridge.stop)
        from local_runtime import storage
        from local_runtime.dev_auth import service_role_key

        files = storage.serve_in_thread(database_url, dev["jwt_secret"], root / "storage")
        stack.callback(files.stop)
        runtime = Runtime(
            database_url=database_url,
            redis_url=redis_url,
            upstash_url=bridge.url,
            upstash_token=dev["upstash_token"],
            jwt_secret=dev["jwt_secret"],
            supabase_url=os.environ.get("SUPABASE_URL", DEFAULT_SUPABASE_URL),
            port=port,
            storage_url=files.url,
            service_role_key=service_role_key(dev["jwt_secret"]),
            webhook_secrets={name: dev[name] for name in WEBHOOK_SECRETS},
        )
        state = root / "runtime.json"
        state.write_text(json.dumps(runtime.__dict__, indent=2))
        state.chmod(0o600)
        stack.callback(state.unlink, missing_ok=True)
        yield runtime


def cmd_up(args: argparse.Namespace) -> int:
    """Start everything and serve the gateway until Ctrl-C."""
    import uvicorn

    from local_runtime.dev_auth import ensure_user, sign_token

    port = int(args.port or os.environ.get("PORT", "3000"))
    with services(data_dir(), port) as runtime, _noted(data_dir() / "runtime.json"), _graph(runtime) as graph_url:
        os.environ.update(runtime.environment())
        os.environ["WHATSAPP_GRAPH_URL"] = graph_url
        from local_runtime.gateway.app import server_config
        from local_runtime.system import local_functions

        user_id = ensure_user(runtime.database_url, DEMO_EMAIL)
        token = sign_token(runtime.jwt_secret, runtime.issuer, user_id, DEMO_EMAIL)
        with local_functions() as gateway:
            # Bind first, so the port already accepts connections when the banner is printed.
            sock = socket.create_server((args.host, port))
            server = uvicorn.Server(server_config(gateway))
            _banner(runtime, token, graph_url)
            with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled
                server.run(sockets=[sock])
    print("stopped; data kept in", data_dir())
    return 0


@contextlib.contextmanager
def _noted(state: Path) -> Iterator[None]:
    """Note where this ``up`` keeps its state, for ``token`` run from a shell with another CA_DATA_DIR."""
    DEFAULT_DATA_DIR.mkdir(parents=True, exist_ok=True)
    CURRENT_RUNTIME.write_text(str(state))
    try:
        yield
    finally:
        CURRENT_RUNTIME.unlink(missing_ok=True)


@contextlib.contextmanager
def _graph(runtime: Runtime) -> Iterator[str]:
    """The Graph API replies go to: WHATSAPP_GRAPH_URL when set, else a local sink (local_runtime/graph_sink.py)
    that posts status callbacks back to this gateway's WhatsApp webhook."""
    if os.environ.get("WHATSAPP_GRAPH_URL"):
        yield os.environ["WHATSAPP_GRAPH_URL"]
        return
    from local_runtime.graph_sink import serve_sink

    webhook = f"http://127.0.0.1:{runtime.port}/webhooks/whatsapp"
    sink, stop = serve_sink(webhook, runtime.webhook_secrets.get("whatsapp_app_secret"))
    try:
        yield sink.url
    finally:
        stop()


def _banner(runtime: Runtime, token: str, graph_url: str) -> None:
    url = f"http://127.0.0.1:{runtime.port}"
    print(
        f"""
Conversion Agents is running at {url}
  docs:     {url}/docs   (OpenAPI: {url}/openapi.json)
  data:     {data_dir()}
  user:     {DEMO_EMAIL} (owner of the demo organization)

export TOKEN={token}
curl -s {url}/organizations -H "Authorization: Bearer $TOKEN"

Inbound webhooks: secrets (WhatsApp verify token and app secret, HubSpot client secret) in {data_dir()}/secrets.json
WhatsApp replies go to {graph_url} (a local fake Graph API unless WHATSAPP_GRAPH_URL is set):
  each is printed here as "whatsapp sink: ..." and listed at {graph_url}/messages
More tokens: python3 scripts/dev.py token --email you@example.com --org "Acme"
Stop with Ctrl-C.
""",
        flush=True,
    )


def cmd_token(args: argparse.Namespace) -> int:
    """Create (or reuse) a user, optionally in a new organization, and print a JWT for it."""
    from local_runtime.dev_auth import create_organization_as, ensure_user, sign_token

    state, looked = find_runtime()
    if state is None:
        where = ", ".join(str(p) for p in looked)
        print(
            f"no running local runtime found (looked for {where}); start it with `python3 scripts/dev.py up`,"
            " or set CA_DATA_DIR to the data folder it runs with",
            file=sys.stderr,
        )
        return 2
    runtime = Runtime(**json.loads(state.read_text()))
    user_id = ensure_user(runtime.database_url, args.email)
    result: dict[str, str] = {"user_id": str(user_id), "email": args.email.lower()}
    if args.org:
        result["organization_id"] = str(create_organization_as(runtime.database_url, user_id, args.org))
    result["token"] = sign_token(runtime.jwt_secret, runtime.issuer, user_id, args.email.lower(), args.ttl)
    print(json.dumps(result, indent=2) if args.json else result["token"])
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    """Apply pending migrations to DATABASE_URL."""
    from local_runtime.migrate import apply_migrations

    url = os.environ.get("DATABASE_URL")
    if not url:
        print("set DATABASE_URL", file=sys.stderr)
        return 2
    print("applied:", apply_migrations(url) or "nothing (up to date)")
    return 0


def cmd_migrations(_: argparse.Namespace) -> int:
    """Append the checksums of migrations not yet frozen."""
    from local_runtime.migrate import CHECKSUMS, freeze

    added = freeze()
    print(f"froze {', '.join(added)} in {CHECKSUMS}" if added else "every migration is already frozen")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m local_runtime``."""
    parser = argparse.ArgumentParser(prog="python -m local_runtime", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Postgres, Redis, the Upstash bridge and the gateway")
    up.add_argument("--port", type=int, default=None, help="gateway port (default $PORT or 3000)")
    up.add_argument("--host", default="127.0.0.1")
    up.set_defaults(func=cmd_up)
    token = sub.add_parser("token", help="create a user (optionally in a new organization) and print a JWT")
    token.add_argument("--email", required=True)
    token.add_argument("--org", help="also create this organization, owned by the user")
    token.add_argument("--ttl", type=int, default=24 * 3600, help="token lifetime in seconds")
    token.add_argument("--json", action="store_true", help="print user, organization and token as JSON")
    token.set_defaults(func=cmd_token)
    migrate = sub.add_parser("migrate", help="apply pending migrations to DATABASE_URL")
    migrate.set_defaults(func=cmd_migrate)
    migrations = sub.add_parser("migrations", help="manage infra/supabase/migrations.sha256")
    migrations.add_argument("action", choices=["freeze"], help="freeze: list every new migration's checksum")
    migrations.set_defaults(func=cmd_migrations)
    args = parser.parse_args(argv)
    return int(args.func(args))
