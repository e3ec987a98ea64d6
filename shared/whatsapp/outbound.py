"""Send one stored outbound message (an AI or a human reply) to the lead over WhatsApp. Workers only.

Idempotent: only a ``queued`` row is sent, and a sender claims it first (``send_claimed_at``),
so a redelivered job or a second worker finds nothing to do. In order: a message is not
claimed while an earlier outbound message of its conversation is still queued. Inside the
24-hour window the text goes out, split to fit; outside it (by our clock, or Meta's 131047)
the agent's approved template goes instead. An opted-out lead gets nothing: the row is marked
failed and says why (``app.fail_send``, which also emits ``message.failed``). Meta being
unavailable counts an attempt and raises ``SendRetry``, until ``shared.whatsapp.retries`` says
the attempts are used up; then the message fails too.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.agents.config import whatsapp_template
from shared.db import service_call, service_session
from shared.errors import AppError, NotFound, UpstreamUnavailable
from shared.jobs import Queued, SendJob, submit
from shared.observability import logger, metrics
from shared.secrets_store import read_secret
from shared.whatsapp import compose, graph, retries, throughput

# Longer than a worker's timeout: a claim this old belongs to a sender that died.
STALE_CLAIM = timedelta(minutes=5)
_CLAIM = """
    with claimed as (
        update public.messages m set send_claimed_at = now()
        where m.id = %(id)s and m.status = 'queued' and m.role in ('assistant', 'human')
          and (m.send_claimed_at is null or m.send_claimed_at < now() - %(stale)s::interval)
          and not exists (
              select 1 from public.messages e
              where e.conversation_id = m.conversation_id and e.role in ('assistant', 'human')
                and e.status = 'queued' and (e.created_at, e.id) < (m.created_at, m.id)
          )
        returning m.id, m.conversation_id, m.content, m.payload, m.send_attempts
    )
    select claimed.*, coalesce(c.window_expires_at > now(), false) as window_open, l.phone, l.name as lead_name,
           l.consent, i.external_id as phone_number_id, i.secret_id, i.config as integration_config,
           coalesce(v.config -> 'whatsapp', '{}'::jsonb) as whatsapp
    from claimed
    join public.conversations c on c.id = claimed.conversation_id
    join public.leads l on l.id = c.lead_id
    left join public.agent_versions v on v.agent_id = c.agent_id and v.version = c.agent_version
    left join lateral (
        -- The number the lead last wrote to; else the agent's number.
        select i.* from public.integrations i
        where i.kind = 'whatsapp' and i.enabled and i.organization_id = c.organization_id
          and (i.external_id = c.metadata -> 'whatsapp' ->> 'phone_number_id' or i.agent_id = c.agent_id)
        order by i.external_id is not distinct from c.metadata -> 'whatsapp' ->> 'phone_number_id' desc, i.created_at
        limit 1
    ) i on true
"""
# Why a message was not claimed: it waits for an earlier one (true), or it is not sendable now (false).
_BLOCKED = """
    select exists (
        select 1 from public.messages e
        where e.conversation_id = m.conversation_id and e.role in ('assistant', 'human')
          and e.status = 'queued' and (e.created_at, e.id) < (m.created_at, m.id)
    ) as blocked
    from public.messages m where m.id = %s and m.status = 'queued'
"""
_PROGRESS = """
    update public.messages m set payload = m.payload || jsonb_build_object('wamids', %s::jsonb)
    where m.id = %s returning m.id
"""


@dataclass(frozen=True)
class Outgoing:
    """A claimed message and everything needed to send it."""

    id: uuid.UUID
    attempts: int  # failed attempts before this one
    content: str
    sent: list[str]  # wamids of the chunks an earlier attempt already sent
    window_open: bool
    phone: str
    lead_name: str | None
    phone_number_id: str
    token: str
    per_second: int
    whatsapp: dict[str, Any]


class Refused(Exception):
    """Nothing may be sent; ``problem`` says why, on the message row."""

    def __init__(self, kind: str, title: str, detail: str) -> None:
        super().__init__(title)
        self.problem = {"type": f"/problems/{kind}", "title": title, "status": 422, "detail": detail}


async def send_stored_message(message_id: uuid.UUID) -> str:
    """Send ``message_id`` if still queued: ``sent``, ``failed`` or ``skipped`` (not queued, or claimed).

    Raises ``retries.RetryLater`` while it must wait: for Meta (an attempt is counted) or for an
    earlier message of the conversation.
    """
    try:
        outgoing = await _claim(message_id)
    except Refused as refused:
        return await _failed(message_id, refused.problem)
    if outgoing is None:
        blocked = await service_call(_BLOCKED, (message_id,))
        if blocked and blocked["blocked"]:
            raise retries.WaitForEarlier()
        return "skipped"
    try:
        wamids = await _deliver(outgoing)
    except Refused as refused:
        return await _failed(message_id, refused.problem)
    except graph.GraphError as exc:
        if not exc.transient:
            return await _failed(message_id, exc.problem())
        return await _attempt_failed(outgoing, exc.problem())
    except UpstreamUnavailable as exc:
        return await _attempt_failed(outgoing, _problem(exc))
    await service_call("select app.whatsapp_mark_sent(%s, %s)", (message_id, wamids))
    metrics.add_metric(name="WhatsAppMessagesSent", unit="Count", value=len(wamids))
    return "sent"


async def _attempt_failed(out: Outgoing, problem: dict[str, Any]) -> str:
    """Count a transient failure: fail the message after the last attempt, else raise ``SendRetry``."""
    attempts = out.attempts + 1
    if retries.exhausted(attempts):
        return await _failed(out.id, {**problem, "attempts": attempts})
    retry = retries.SendRetry(attempts, str(problem.get("title")))
    # The count, not an increment: this statement may run twice (a lost answer), and is applied once.
    await service_call("select app.retry_send(%s, %s, %s) as attempts", (out.id, attempts, retry.delay_seconds))
    # One line per attempt, no traceback: an outage is expected, and the job will run again.
    logger.warning(
        "whatsapp send failed; will retry",
        extra={"attempt": attempts, "retry_in_s": retry.delay_seconds, "code": problem.get("code")},
    )
    metrics.add_metric(name="WhatsAppSendRetried", unit="Count", value=1)
    raise retry


async def _failed(message_id: uuid.UUID, problem: dict[str, Any]) -> str:
    await service_call("select app.fail_send(%s, %s::jsonb) as failed", (message_id, json.dumps(problem)))
    logger.warning("whatsapp message not sent", extra={"reason": problem["type"], "code": problem.get("code")})
    metrics.add_metric(name="WhatsAppSendFailed", unit="Count", value=1)
    return "failed"


def _problem(exc: AppError) -> dict[str, Any]:
    return {"type": f"/problems/{exc.code}", "title": exc.title, "status": exc.status, "detail": exc.detail}


async def send_reply(conversation_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """Send a reply the turn just stored, once; anything else is left to a send job in its own group.

    Never fails the turn: its reply exists, and redelivering the turn would not send it.
    """
    try:
        await send_stored_message(message_id)
    except AppError as exc:
        logger.info("whatsapp reply not sent yet; queued a send job", extra={"error": exc.code})
        await submit([Queued(conversation_id, SendJob(message_id=message_id))])


async def _claim(message_id: uuid.UUID) -> Outgoing | None:
    async with service_session() as db:
        row = await db.one(_CLAIM, {"id": message_id, "stale": STALE_CLAIM})
        if row is None:
            return None
        _check(row)
        try:
            token = _access_token(await read_secret(db, row["secret_id"]))
        except NotFound as exc:
            raise Refused("whatsapp-not-configured", "WhatsApp is not configured", "the number has no token") from exc
    payload = row["payload"] or {}
    return Outgoing(
        id=row["id"],
        attempts=row["send_attempts"],
        content=row["content"],
        sent=[str(w) for w in payload.get("wamids") or []],
        window_open=row["window_open"],
        phone=row["phone"],
        lead_name=row["lead_name"],
        phone_number_id=row["phone_number_id"],
        token=token,
        per_second=throughput.rate(row["integration_config"]),
        whatsapp=row["whatsapp"] if isinstance(row["whatsapp"], dict) else {},
    )


def _access_token(secret: str) -> str:
    """The token itself, or the ``access_token`` of the credentials object the integrations API stores."""
    if secret.startswith("{"):
        try:
            credentials = json.loads(secret)
        except ValueError:
            return secret
        if isinstance(credentials, dict) and isinstance(credentials.get("access_token"), str):
            return str(credentials["access_token"])
        raise NotFound("the WhatsApp credentials hold no access_token")
    return secret


def _check(row: dict[str, Any]) -> None:
    """Refuse what must not be sent: to an opted-out lead, to no number, from no number."""
    if not row["consent"]:
        raise Refused("whatsapp-opted-out", "Lead opted out", "the lead opted out of WhatsApp messages")
    if not row["phone"]:
        raise Refused("whatsapp-no-recipient", "Lead has no phone", "the lead has no WhatsApp number")
    if row["phone_number_id"] is None or row["secret_id"] is None:
        raise Refused("whatsapp-not-configured", "WhatsApp is not configured", "no enabled WhatsApp number")


async def _deliver(out: Outgoing) -> list[str]:
    """Free text inside the window; the template outside it, or when Meta says the window closed."""
    if out.window_open:
        try:
            return await _send_text(out)
        except graph.GraphError as exc:
            if exc.graph_code != graph.RE_ENGAGEMENT_REQUIRED:
                raise
            logger.info("whatsapp window closed on Meta's side; sending the template")
    values = compose.template_values(out.lead_name, out.content)
    body = compose.template_body(out.phone, whatsapp_template(out.whatsapp), values)
    if body is None:
        raise Refused("whatsapp-window-closed", "Outside the 24-hour window", "no approved template is configured")
    return [*out.sent, await _post(out, body)]


async def _send_text(out: Outgoing) -> list[str]:
    chunks = compose.split_text(out.content)
    if not chunks:
        raise Refused("whatsapp-empty", "Empty message", "the message has no text to send")
    sent = list(out.sent)
    for chunk in chunks[len(sent) :]:
        sent.append(await _post(out, compose.text_body(out.phone, chunk)))
        if len(chunks) > 1:  # a retry resumes after the chunks already delivered
            await service_call(_PROGRESS, (json.dumps(sent), out.id))
    return sent


async def _post(out: Outgoing, body: dict[str, Any]) -> str:
    await throughput.acquire(out.phone_number_id, out.per_second)
    # One POST per attempt: the send job's visibility timeout spaces the retries, not a sleep here.
    return await graph.send(out.phone_number_id, out.token, body, retry_delays=())
