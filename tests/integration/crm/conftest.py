"""CRM tier: real handlers, Postgres, moto SQS, and a fake of the three CRMs on 127.0.0.1 in a thread."""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from shared.settings import get_settings
from tests.integration.api.conftest import api, make_org, make_user  # noqa: F401  (shared fixtures)
from tests.integration.crm.fakes import (
    HUBSPOT_TOKEN,
    PIPEDRIVE_TOKEN,
    RD_API_KEY,
    FakeCrm,
    serve,
)
from tests.integration.webhooks.conftest import EventsQueue, deliver, dispatch, emit_event, events_queue  # noqa: F401
from tests.support.api import LambdaApi

CLIENT_SECRET = "hubspot-app-client-secret-4f1e2d3c"
PIPEDRIVE_USER, PIPEDRIVE_PASSWORD = "ca-hooks", "pd-hook-password-9d8c7b"
RD_WEBHOOK_TOKEN = "rd-webhook-token-a1b2c3d4e5f6"
CREDENTIALS: dict[str, dict[str, str]] = {
    "hubspot": {"access_token": HUBSPOT_TOKEN},
    "pipedrive": {
        "api_token": PIPEDRIVE_TOKEN,
        "webhook_username": PIPEDRIVE_USER,
        "webhook_password": PIPEDRIVE_PASSWORD,
    },
    "rdstation": {"api_key": RD_API_KEY, "webhook_token": RD_WEBHOOK_TOKEN},
}


@dataclass(frozen=True)
class LeadSetup:
    """A lead qualified in conversation ``qualified_in`` (agent version 1), then seen in a newer one (version 2)."""

    id: uuid.UUID
    agent_id: uuid.UUID
    qualified_in: uuid.UUID
    latest: uuid.UUID


@pytest.fixture
def crm(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCrm]:
    """The fake CRMs, with settings pointing every base URL (and HubSpot's client secret) at them."""
    fake = FakeCrm()
    server, thread = serve(fake)
    for name in ("HUBSPOT_API_URL", "PIPEDRIVE_API_URL", "RDSTATION_API_URL"):
        monkeypatch.setenv(name, fake.url)
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", CLIENT_SECRET)
    get_settings.cache_clear()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    get_settings.cache_clear()


@pytest.fixture
def connect(api: LambdaApi) -> Callable[..., dict[str, Any]]:  # noqa: F811
    """Create an integration through the API as the organization's admin."""

    def _connect(org: dict[str, Any], kind: str, **fields: Any) -> dict[str, Any]:
        body = {"kind": kind, "name": f"{kind} test", "credentials": CREDENTIALS[kind], **fields}
        if kind == "hubspot":
            body.setdefault("external_id", str(uuid.uuid4().int % 10**9))
        response = api.call("POST", f"/organizations/{org['id']}/integrations", token=org["admin"].token, body=body)
        assert response.status == 201, response.body
        created: dict[str, Any] = response.json()
        return created

    return _connect


@pytest.fixture
def make_lead(database_url: str) -> Callable[..., LeadSetup]:
    """A lead with two conversations: qualified in the first (agent version 1), the second newer (version 2)."""

    def _make(org: dict[str, Any], **lead: Any) -> LeadSetup:
        with psycopg.connect(database_url, autocommit=True) as conn:

            def one(sql: str, *params: Any) -> uuid.UUID:
                row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
                assert row is not None
                return uuid.UUID(str(row[0]))

            agent = one(
                "insert into public.agents (organization_id, name, current_version) values (%s, 'SDR', 2) returning id",
                org["id"],
            )
            for version in (1, 2):
                conn.execute(
                    "insert into public.agent_versions (organization_id, agent_id, version, config)"
                    " values (%s, %s, %s, '{}')",
                    (org["id"], agent, version),
                )
            lead_id = one(
                "insert into public.leads (organization_id, name, email, phone, stage) values (%s, %s, %s, %s,"
                " 'qualified') returning id",
                org["id"],
                lead.get("name", "Maria Souza"),
                lead.get("email"),
                lead.get("phone"),
            )
            conversations = [
                one(
                    "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel,"
                    " last_message_at) values (%s, %s, %s, %s, 'whatsapp', now() + %s * interval '1 minute')"
                    " returning id",
                    org["id"],
                    agent,
                    version,
                    lead_id,
                    version,
                )
                for version in (1, 2)
            ]
            conn.execute(
                "insert into public.lead_events (organization_id, lead_id, conversation_id, type, from_stage, to_stage,"
                " data, actor) values (%s, %s, %s, 'lead.qualified', 'engaged', 'qualified', %s, 'agent')",
                (org["id"], lead_id, conversations[0], json.dumps({"score": 85})),
            )
        return LeadSetup(lead_id, agent, conversations[0], conversations[1])

    return _make


@pytest.fixture
def cron(dispatch: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:  # noqa: F811
    """The dispatch cron, once.

    Its handler's ``@metrics.log_metrics`` warns when a run published no metric (Powertools'
    "No application metrics to publish"), which pytest turns into an error; that warning, and only
    it, is ignored here (the handler is not part of the CRM work).
    """

    def _run() -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
            return dispatch()

    return _run


@pytest.fixture
def sync(
    cron: Callable[[], dict[str, Any]],
    deliver: Callable[[dict[str, Any]], dict[str, Any]],  # noqa: F811
    events_queue: EventsQueue,  # noqa: F811
) -> Callable[[uuid.UUID], tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Run the cron, then the worker on the event's messages; the worker's answer and the messages."""

    def _sync(event_id: uuid.UUID) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        cron()
        messages = events_queue.receive(event_id)
        assert messages, "the event was not queued for any subscriber"
        result = deliver(events_queue.event(messages))
        events_queue.settle(messages, result)
        return result, messages

    return _sync


@pytest.fixture
def crm_link(database_url: str) -> Callable[[Any, uuid.UUID], dict[str, Any] | None]:
    """The crm_links row of (integration, lead)."""

    def _link(integration_id: Any, lead_id: uuid.UUID) -> dict[str, Any] | None:
        with psycopg.connect(database_url) as conn:
            cur = conn.execute(
                "select contact_id, deal_id, synced_step, last_event_id, last_status, last_error, lease_id"
                " from public.crm_links where integration_id = %s and lead_id = %s",
                (integration_id, lead_id),
            )
            row = cur.fetchone()
            names = [d.name for d in cur.description or []]
        return dict(zip(names, row, strict=True)) if row else None

    return _link
