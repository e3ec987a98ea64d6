"""Lead contact fields are normalised on the way in, and refused by name when they are not valid."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.conversations.models import LeadContact, PostMessage, StartConversation


def test_email_and_phone_are_normalised() -> None:
    # given a contact written the way people type it / then it is stored the way leads are deduplicated
    contact = LeadContact(name="  Ana  ", email=" Ana@Example.COM ", phone="(11) 98765-4321")
    assert (contact.name, contact.email, contact.phone) == ("Ana", "ana@example.com", "+5511987654321")


@pytest.mark.parametrize(
    ("field", "value"), [("email", "ana@"), ("phone", "12345"), ("name", ""), ("email", "a" * 321)]
)
def test_invalid_contact_fields_are_named(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        LeadContact.model_validate({field: value})
    assert [err["loc"] for err in caught.value.errors()] == [(field,)]


def test_start_defaults_to_the_api_channel_and_an_anonymous_lead() -> None:
    body = StartConversation.model_validate({"agent_id": "00000000-0000-4000-8000-000000000001"})
    assert (body.channel, body.lead, body.message) == ("api", LeadContact(), None)


@pytest.mark.parametrize("content", ["", "   ", "x" * 4097])
def test_message_content_must_fit_whatsapp(content: str) -> None:
    with pytest.raises(ValidationError):
        PostMessage(content=content)
