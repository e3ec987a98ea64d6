"""WhatsApp tier helpers: a connected number, signed deliveries as Meta sends them, the turn queue."""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from local_runtime.aws import sqs_client
from local_runtime.queues import sqs_event
from shared.whatsapp.signature import sign
from tests.support.api import LambdaApi, LambdaResponse
from tests.support.lambda_events import load_event

APP_SECRET = "5f0b8e2c9a7d4c1e8b6a3f2d1c0e9b8a"
VERIFY_TOKEN = "wa-verify-3c9e7a1b5d"
ACCESS_TOKEN = "EAAGtest0access0token0for0graph"
PATH = "/webhooks/whatsapp"


def new_phone() -> str:
    """A fresh Brazilian mobile number as Meta's wa_id (digits, no +)."""
    return "55119" + random.choice("6789") + "".join(random.choices("0123456789", k=7))


def new_wamid() -> str:
    return f"wamid.HBgN{uuid.uuid4().hex.upper()}"


def delivery(fixture: str, phone_number_id: str, wa_id: str | None = None, **message: Any) -> dict[str, Any]:
    """``tests/events/whatsapp/<fixture>`` addressed to our number, from ``wa_id``; ``message`` overrides fields."""
    data = copy.deepcopy(load_event(f"whatsapp/{fixture}"))
    value = data["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_number_id
    for contact in value.get("contacts", []):
        contact["wa_id"] = wa_id or contact["wa_id"]
    for item in value.get("messages", []):
        # Sent just now, unless the test says when: the 24-hour window starts from it.
        item.update({"from": wa_id or item["from"], "id": new_wamid(), "timestamp": str(int(time.time())), **message})
    return data


def text(phone_number_id: str, wa_id: str, body: str, **message: Any) -> dict[str, Any]:
    """A text message delivery from ``wa_id``."""
    return delivery("text.json", phone_number_id, wa_id, text={"body": body}, **message)


def raw(data: dict[str, Any]) -> bytes:
    """The bytes Meta sends: compact JSON with non-ASCII escaped."""
    return json.dumps(data, separators=(",", ":")).encode()


def post(api: LambdaApi, body: bytes, signature: str | None = "sign") -> LambdaResponse:
    """POST ``body`` to the webhook, signed with the app secret unless ``signature`` says otherwise."""
    headers = (
        {}
        if signature is None
        else {"x-hub-signature-256": sign(body, APP_SECRET) if signature == "sign" else signature}
    )
    return api.call("POST", PATH, raw_body=body.decode(), headers=headers)


@dataclass
class Number:
    """A connected WhatsApp number: an organization, its agent, the integration and its token in Vault."""

    url: str
    org: uuid.UUID
    agent: uuid.UUID
    phone_number_id: str
    integration: uuid.UUID

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of ``sql``, committed (psycopg commits when the block ends)."""
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, *params: Any) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql, params)

    def messages(self, wa_id: str) -> list[dict[str, Any]]:
        """Every message of conversations with the lead ``wa_id``, oldest first."""
        return self.query(
            "select m.* from public.messages m join public.conversations c on c.id = m.conversation_id"
            " join public.leads l on l.id = c.lead_id where l.organization_id = %s and l.phone = %s"
            " order by m.created_at, m.id",
            self.org,
            "+" + wa_id,
        )

    def conversation(self, wa_id: str) -> dict[str, Any]:
        [row] = self.query(
            "select c.* from public.conversations c join public.leads l on l.id = c.lead_id"
            " where l.organization_id = %s and l.phone = %s and c.status <> 'closed'",
            self.org,
            "+" + wa_id,
        )
        return row

    def lead(self, wa_id: str) -> dict[str, Any]:
        [row] = self.query(
            "select * from public.leads where organization_id = %s and phone = %s", self.org, "+" + wa_id
        )
        return row

    def outbound(self, wa_id: str, content: str, role: str = "assistant") -> uuid.UUID:
        """A queued reply to the lead, as finish_turn or the human-reply API store it."""
        conversation = self.conversation(wa_id)["id"]
        [row] = self.query(
            "insert into public.messages (organization_id, conversation_id, role, content, status)"
            " values (%s, %s, %s, %s, 'queued') returning id",
            self.org,
            conversation,
            role,
            content,
        )
        return uuid.UUID(str(row["id"]))


class TurnQueue:
    """The turn queue in moto, seen from one test: only the message groups (conversations) it names."""

    def __init__(self, aws: Any) -> None:
        self.sqs = sqs_client(aws.endpoint)
        self.queue = aws.queues["TurnQueue"]

    def _receive(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue.url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        return found

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"])

    def take(self, *groups: Any) -> list[dict[str, Any]]:
        """Receive and delete everything visible; the bodies of the named conversations' jobs (turns, sends)."""
        wanted, mine = _groups(groups), []
        while batch := self._receive():
            mine += [json.loads(m["Body"]) for m in batch if m["Attributes"]["MessageGroupId"] in wanted]
            self._delete(batch)
        return mine

    def drain(self, invoke: Callable[[dict[str, Any]], dict[str, Any]], *groups: Any, rounds: int = 20) -> int:
        """Run the named conversations' jobs through the worker (others are dropped); the number handled.

        A failed job is visible again at once, as if its backoff had passed.
        """
        wanted, handled = _groups(groups), 0
        for _ in range(rounds):
            batch = self._receive()
            if not batch:
                break
            mine = [m for m in batch if m["Attributes"]["MessageGroupId"] in wanted]
            self._delete([m for m in batch if m not in mine])
            if not mine:
                continue
            failed = {f["itemIdentifier"] for f in invoke(sqs_event(mine, self.queue)).get("batchItemFailures", [])}
            self._delete([m for m in mine if m["MessageId"] not in failed])
            for message in mine:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
            handled += len(mine) - len(failed)
        return handled


def _groups(conversations: tuple[Any, ...]) -> set[str]:
    """The message groups of ``conversations``: each one's turns and its sends."""
    return {group for c in conversations for group in (str(c), f"send:{c}")}


def fifo_event(*bodies: tuple[Any, dict[str, Any]]) -> dict[str, Any]:
    """An SQS FIFO event (tests/events/sqs_fifo.json) with one record per (group, body)."""
    template = load_event("sqs_fifo.json")["Records"][0]
    records = []
    for group, body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps(body)
        record["attributes"].update(MessageGroupId=str(group), MessageDeduplicationId=str(uuid.uuid4()))
        records.append(record)
    return {"Records": records}
