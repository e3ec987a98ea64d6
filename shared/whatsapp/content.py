"""One inbound WhatsApp message as a row of ``public.messages``: content, content_type and payload.

``content`` is what the model reads (``shared.turns.prompt`` prefixes non-text kinds with what
was sent); ``payload`` keeps the structured parts (ids, media, coordinates, the message a
reaction is on). Types we do not handle are stored as ``unsupported``, never refused.
``answer`` decides whether the message gets a model turn: a reaction or an unsupported type
does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.whatsapp import keywords
from shared.whatsapp.payload import Media, Message

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


@dataclass(frozen=True)
class Content:
    """What is stored for one message; ``keyword`` is the opt-out/opt-in candidate, if any."""

    content: str
    content_type: str
    payload: dict[str, Any] = field(default_factory=dict)
    keyword: str | None = None
    answer: bool = True


def of(message: Message) -> Content:
    """Content, type and payload of ``message``, per Meta's message types."""
    kind = message.type
    if kind == "text" and message.text is not None:
        body = message.text.body
        return Content(body, "text", {}, keywords.candidate(body))
    if kind == "interactive" and message.interactive is not None:
        return _interactive(message)
    if kind == "button" and message.button is not None:
        text = message.button.text
        return Content(text, "button", {"text": text, "payload": message.button.payload}, keywords.candidate(text))
    if kind == "location" and message.location is not None:
        return _location(message)
    if kind == "contacts" and message.contacts:
        return _contacts(message)
    if kind == "reaction" and message.reaction is not None:
        return _reaction(message)
    media = getattr(message, kind, None) if kind in MEDIA_TYPES else None
    if isinstance(media, Media):
        return _media(kind, media)
    return _unsupported(message)


def _interactive(message: Message) -> Content:
    assert message.interactive is not None
    reply = message.interactive.button_reply or message.interactive.list_reply
    if reply is None:
        return _unsupported(message)
    kind = "button_reply" if message.interactive.button_reply else "list_reply"
    payload = {"interactive_type": kind, "id": reply.id, "title": reply.title}
    if reply.description:
        payload["description"] = reply.description
    return Content(reply.title, "interactive", payload, keywords.candidate(reply.title))


def _location(message: Message) -> Content:
    assert message.location is not None
    loc = message.location
    payload = {k: v for k, v in loc.model_dump().items() if v is not None}
    place = ", ".join(p for p in (loc.name, loc.address) if p)
    coordinates = f"{loc.latitude}, {loc.longitude}" if loc.latitude is not None else ""
    text = f"{place} ({coordinates})" if place and coordinates else place or coordinates
    return Content(text, "location", payload)


def _contacts(message: Message) -> Content:
    cards = [
        (c.name.formatted_name or c.name.first_name, [p.phone for p in c.phones if p.phone])
        for c in message.contacts or []
    ]
    text = "; ".join(f"{name or '?'}: {', '.join(phones)}".rstrip(": ") for name, phones in cards)
    return Content(text, "contacts", {"contacts": [{"name": name, "phones": phones} for name, phones in cards]})


def _reaction(message: Message) -> Content:
    """The emoji and the wamid of the message it is on; stored, never answered."""
    assert message.reaction is not None
    emoji = message.reaction.emoji or ""
    payload = {"emoji": emoji or None, "message_id": message.reaction.message_id, "removed": not emoji}
    return Content(emoji, "reaction", payload, answer=False)


def _media(kind: str, media: Media) -> Content:
    payload = {"media_id": media.id, **media.model_dump(exclude={"id"}, exclude_none=True)}
    # The model is told the kind; the caption (or a document's file name) is what it can read.
    text = media.caption or (media.filename if kind == "document" else None) or ""
    return Content(text, kind, payload)


def _unsupported(message: Message) -> Content:
    errors = [e.model_dump(exclude_none=True) for e in message.errors]
    return Content("", "unsupported", {"type": message.type, "errors": errors}, answer=False)
