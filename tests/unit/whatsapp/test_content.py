"""Meta's documented payloads become message rows: content for the model, type and payload per kind."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.errors import MalformedRequest
from shared.whatsapp import content
from shared.whatsapp.payload import Delivery, Message, parse
from tests.unit.whatsapp.conftest import load


def _message(name: str) -> Message:
    [value] = parse(json.dumps(load(name)).encode()).values()
    [message] = value.messages
    return message


@pytest.mark.parametrize(
    ("fixture", "text", "kind", "payload"),
    [
        ("text.json", "Does it come in another color?", "text", {}),
        (
            "interactive_button_reply.json",
            "button-text",
            "interactive",
            {"interactive_type": "button_reply", "id": "unique-button-identifier-here", "title": "button-text"},
        ),
        (
            "interactive_list_reply.json",
            "list_reply_title",
            "interactive",
            {
                "interactive_type": "list_reply",
                "id": "list_reply_id",
                "title": "list_reply_title",
                "description": "list_reply_description",
            },
        ),
        ("button.json", "No", "button", {"text": "No", "payload": "No-Button-Payload"}),
        (
            "location.json",
            "Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301 (37.4848, -122.1484)",
            "location",
            {
                "latitude": 37.4848,
                "longitude": -122.1484,
                "name": "Philz Coffee",
                "address": "101 Forest Ave, Palo Alto, CA 94301",
            },
        ),
        (
            "contacts.json",
            "Kerry Fitzgerald: +1 (650) 555-1234",
            "contacts",
            {"contacts": [{"name": "Kerry Fitzgerald", "phones": ["+1 (650) 555-1234"]}]},
        ),
        (
            "image.json",
            "Is this the one?",
            "image",
            {
                "media_id": "1003383421387256",
                "mime_type": "image/jpeg",
                "sha256": "FGyGvDadxKqhKRVxPqAKGjyDbmpvdHXsLFW5xRlUkT0=",
                "caption": "Is this the one?",
            },
        ),
        (
            "audio.json",
            "",
            "audio",
            {
                "media_id": "1003383421387257",
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": "8tUMB3X2Uu5XYGE6ppXA4XVe3yOgXFBjJXh4nxRzvE8=",
                "voice": True,
            },
        ),
        (
            "document.json",
            "signed contract",
            "document",
            {
                "media_id": "1003383421387259",
                "mime_type": "application/pdf",
                "sha256": "0LzScbNDFVmO3ScQKLwhL1kX1dT1NtsPqz6EDu2D1dw=",
                "caption": "signed contract",
                "filename": "contract.pdf",
            },
        ),
        (
            "video.json",
            "the leak",
            "video",
            {
                "media_id": "1003383421387258",
                "mime_type": "video/mp4",
                "sha256": "HmPcDXPNRpxlcEAuNGeDmZXwbmGoiTWr4vAYnaEmXvk=",
                "caption": "the leak",
            },
        ),
        (
            "sticker.json",
            "",
            "sticker",
            {
                "media_id": "1003383421387260",
                "mime_type": "image/webp",
                "sha256": "ZHSq1rArSxf6BbJ5EvmWWj/VU6ZJq5ecYQ1bFZtPrWs=",
                "animated": False,
            },
        ),
        (
            "unsupported.json",
            "",
            "unsupported",
            {
                "type": "unknown",
                "errors": [{"code": 131051, "title": "Unsupported message type"}],
            },
        ),
    ],
)
def test_each_documented_type_is_stored_with_its_content_type_and_payload(
    fixture: str, text: str, kind: str, payload: dict[str, Any]
) -> None:
    # given Meta's documented example / when it is read
    stored = content.of(_message(fixture))
    # then the row holds what the model reads, the kind, and the structured parts
    assert (stored.content, stored.content_type, stored.payload) == (text, kind, payload)


def test_a_document_without_caption_is_described_by_its_file_name() -> None:
    message = _message("document.json")
    assert message.document is not None
    message.document.caption = None
    assert content.of(message).content == "contract.pdf"


def test_unknown_fields_anywhere_are_ignored() -> None:
    # given a delivery with fields this code has never heard of, at every level
    delivery = parse(json.dumps(load("unknown_fields.json")).encode())
    # when it is read / then the text message is still a plain text message
    [value] = delivery.values()
    assert value.metadata.phone_number_id == "106540352242922"
    assert value.contacts[0].profile.name == "Sheena Nelson"
    stored = content.of(value.messages[0])
    assert (stored.content, stored.content_type, stored.payload) == ("Does it come in another color?", "text", {})


def test_a_new_message_type_is_unsupported_not_an_error() -> None:
    message = Message.model_validate({"id": "wamid.X", "type": "hologram", "hologram": {"depth": 3}})
    stored = content.of(message)
    assert (stored.content_type, stored.payload) == ("unsupported", {"type": "hologram", "errors": []})


def test_a_reply_whose_object_is_missing_is_unsupported() -> None:
    message = Message.model_validate({"id": "wamid.X", "type": "interactive", "interactive": {"type": "nfm_reply"}})
    assert content.of(message).content_type == "unsupported"


def test_numbers_where_strings_are_documented_are_accepted() -> None:
    # given ids and a timestamp sent as JSON numbers (some of Meta's samples do)
    body = {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": 106540352242922},
        "messages": [{"from": 16505551234, "id": "wamid.N", "timestamp": 1749416383, "type": "text",
                      "text": {"body": "oi"}}]}}]}]}  # fmt: skip
    [value] = parse(json.dumps(body).encode()).values()
    # then they are read as the strings they are
    assert value.metadata.phone_number_id == "106540352242922"
    assert (value.messages[0].from_, value.messages[0].timestamp) == ("16505551234", "1749416383")


def test_other_objects_and_fields_carry_nothing_to_store() -> None:
    page = Delivery.model_validate({"object": "page", "entry": [{"changes": [{"field": "messages", "value": {}}]}]})
    template = Delivery.model_validate(
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "message_template_status_update"}]}]}
    )
    assert page.values() == []
    assert template.values() == []


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[]", b'{"entry": "x"}'])
def test_a_body_that_is_not_a_delivery_is_a_400(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        parse(body)
