"""The webhook delivery as Meta documents it: ``entry[].changes[].value`` with messages and statuses.

Only what we read is modelled, every field optional, and anything else (new fields, new
types) is ignored, so a change on Meta's side never turns a delivery into a 500.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import json_body
from shared.errors import MalformedRequest

OBJECT = "whatsapp_business_account"


class Part(BaseModel):
    """Base of every payload object: unknown fields are dropped."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Text(Part):
    body: str = ""


class Reply(Part):
    """An interactive ``button_reply`` or ``list_reply``."""

    id: str | None = None
    title: str = ""
    description: str | None = None


class Interactive(Part):
    type: str | None = None
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class Button(Part):
    """A template's quick-reply button."""

    text: str = ""
    payload: str | None = None


class Location(Part):
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None
    url: str | None = None


class Reaction(Part):
    """An emoji on an earlier message (``message_id`` is its wamid); no emoji means the reaction was removed."""

    message_id: str | None = None
    emoji: str | None = None


class Media(Part):
    """image, audio, video, document or sticker: Meta keeps the file, we keep its id."""

    id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool | None = None
    animated: bool | None = None


class ContactName(Part):
    formatted_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class ContactPhone(Part):
    phone: str | None = None
    wa_id: str | None = None
    type: str | None = None


class SharedContact(Part):
    """A contact card the lead sent."""

    name: ContactName = Field(default_factory=ContactName)
    phones: list[ContactPhone] = Field(default_factory=list)


class Error(Part):
    code: int | None = None
    title: str | None = None
    message: str | None = None
    error_data: dict[str, Any] | None = None


class Message(Part):
    """One message from a WhatsApp user; ``type`` names the object that holds its content."""

    id: str | None = None
    from_: str | None = Field(default=None, alias="from")
    timestamp: str | None = None
    type: str = "unknown"
    text: Text | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    location: Location | None = None
    contacts: list[SharedContact] | None = None
    reaction: Reaction | None = None
    image: Media | None = None
    audio: Media | None = None
    video: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    errors: list[Error] = Field(default_factory=list)


class Status(Part):
    """A status callback for a message we sent."""

    id: str | None = None
    status: str | None = None
    timestamp: str | None = None
    errors: list[Error] = Field(default_factory=list)


class Profile(Part):
    name: str | None = None


class Contact(Part):
    wa_id: str | None = None
    profile: Profile = Field(default_factory=Profile)


class Metadata(Part):
    phone_number_id: str | None = None
    display_phone_number: str | None = None


class Value(Part):
    metadata: Metadata = Field(default_factory=Metadata)
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    statuses: list[Status] = Field(default_factory=list)


class Change(Part):
    field: str | None = None
    value: Value = Field(default_factory=Value)


class Entry(Part):
    id: str | None = None
    changes: list[Change] = Field(default_factory=list)


class Delivery(Part):
    """One POST from Meta."""

    object: str | None = None
    entry: list[Entry] = Field(default_factory=list)

    def values(self) -> list[Value]:
        """Every ``messages`` change of a WhatsApp Business Account, in order."""
        if self.object != OBJECT:
            return []
        return [c.value for e in self.entry for c in e.changes if c.field in (None, "messages")]


def parse(body: bytes) -> Delivery:
    """The delivery in ``body``; 400 when it is not JSON or not shaped like one."""
    json_body.check(body)
    try:
        return Delivery.model_validate_json(body)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise MalformedRequest("body is not valid JSON") from exc
        raise MalformedRequest("body is not a WhatsApp webhook delivery") from exc
