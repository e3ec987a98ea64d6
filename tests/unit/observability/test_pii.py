"""PII masking: what reaches a log line keeps its shape but not the person's data."""

from __future__ import annotations

import pytest

from shared.observability.pii import MASK, SENSITIVE_KEYS, mask, mask_text

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"


# ----------------------------------------------------------------------------- e-mails


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contact ana.silva@example.com.br now", "contact a***@example.com.br now"),
        ("joao+leads@empresa.io", "j***@empresa.io"),
        ("two: a1@x.com, b2@y.org", "two: a***@x.com, b***@y.org"),
    ],
)
def test_email_keeps_first_letter_and_domain(text: str, expected: str) -> None:
    # GIVEN free text with e-mail addresses
    # WHEN it is masked
    masked = mask_text(text)

    # THEN the local part is hidden but the domain stays for debugging
    assert masked == expected


# ----------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    "phone",
    [
        "+55 11 91234-5678",
        "+55 (11) 91234-5678",
        "(11) 91234-5678",
        "11 91234 5678",
        "+5511912345678",
        "5511912345678",
        "+14155552671",
        "+55.11.3456.7890",
        "91234-5678",
    ],
)
def test_phone_numbers_keep_only_last_two_digits(phone: str) -> None:
    # GIVEN a message carrying a phone number in a common Brazilian or E.164 format
    text = f"lead phone {phone} replied"

    # WHEN it is masked
    masked = mask_text(text)

    # THEN the number is gone, only its last two digits remain
    digits = "".join(c for c in phone if c.isdigit())
    assert digits not in "".join(c for c in masked if c.isdigit())
    assert f"{MASK}{digits[-2:]}" in masked
    assert masked.startswith("lead phone ")
    assert masked.endswith(" replied")


def test_cpf_is_masked() -> None:
    # GIVEN a Brazilian CPF, formatted and bare
    text = "cpf 123.456.789-09 or 12345678909"

    # WHEN it is masked
    masked = mask_text(text)

    # THEN neither form survives
    assert "123.456.789" not in masked
    assert "12345678909" not in masked
    assert masked == f"cpf {MASK}09 or {MASK}09"


# ----------------------------------------------------------------------------- tokens


def test_jwt_is_masked_entirely() -> None:
    # GIVEN a raw JWT in text
    # WHEN it is masked
    masked = mask_text(f"token={JWT} rejected")

    # THEN no segment of it remains
    assert masked == f"token={MASK} rejected"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_bearer_credential_is_masked_keeping_the_scheme(scheme: str) -> None:
    # GIVEN an Authorization header value, opaque and JWT
    for credential in ("sk_live_51Habc.DEF~123/+=", JWT):
        # WHEN it is masked
        masked = mask_text(f"Authorization: {scheme} {credential}")

        # THEN the scheme is kept and the credential is not
        assert masked == f"Authorization: {scheme} {MASK}"


# ----------------------------------------------------------------------------- text left alone


@pytest.mark.parametrize(
    "text",
    [
        "request completed",
        "order 1234 costs 19.90 BRL",
        "organization 3f2a9c4e-1b2d-4c5e-8f9a-0b1c2d3e4f5a",
        "GET /conversations/12345678/messages",
        "version 1.2.3 on host 10.0.0.1",
        "at 2024-01-15T10:30:00Z",
        "at 2024-01-15 10:30",
        "",
    ],
)
def test_text_without_pii_is_unchanged(text: str) -> None:
    # GIVEN text with ids, paths, versions and dates but no personal data
    # WHEN it is masked
    # THEN it comes back unchanged
    assert mask_text(text) == text


# ----------------------------------------------------------------------------- structures


def test_sensitive_keys_are_redacted_whatever_their_value() -> None:
    # GIVEN a payload whose sensitive keys hold values that look harmless
    payload = {"Authorization": "opaque", "password": 12345, "content": "oi, tudo bem?", "Name": "Ana"}

    # WHEN it is masked
    masked = mask(payload)

    # THEN every sensitive key is redacted, whatever its case or type
    assert masked == {"Authorization": MASK, "password": MASK, "content": MASK, "Name": MASK}


def test_empty_sensitive_values_stay_visible() -> None:
    # GIVEN sensitive keys that hold nothing
    # WHEN masked
    masked = mask({"token": None, "email": ""})

    # THEN their emptiness stays visible for debugging
    assert masked == {"token": None, "email": ""}


def test_nested_dicts_and_lists_are_masked_recursively() -> None:
    # GIVEN PII nested at several depths, in dicts, lists and tuples
    payload = {
        "lead": {"email": "ana@example.com", "notes": ["call +55 11 91234-5678", {"phone_e164": "+5511912345678"}]},
        "events": [{"detail": "mail joao@empresa.io"}, ("x@y.com", 7)],
        "count": 3,
        "ok": True,
    }

    # WHEN it is masked
    masked = mask(payload)

    # THEN every leaf is masked and non-text values are untouched
    assert masked == {
        "lead": {"email": MASK, "notes": [f"call {MASK}78", {"phone_e164": MASK}]},
        "events": [{"detail": "mail j***@empresa.io"}, ["x***@y.com", 7]],
        "count": 3,
        "ok": True,
    }


def test_mask_does_not_mutate_its_input() -> None:
    # GIVEN a payload
    payload = {"email": "ana@example.com", "items": ["ana@example.com"]}

    # WHEN it is masked
    mask(payload)

    # THEN the caller's object is unchanged
    assert payload == {"email": "ana@example.com", "items": ["ana@example.com"]}


def test_sensitive_keys_cover_credentials_and_contact_data() -> None:
    # GIVEN / WHEN / THEN the keys the API and webhooks use are all listed
    assert {"authorization", "cookie", "password", "email", "phone", "wa_id", "x-hub-signature-256"} <= SENSITIVE_KEYS


def test_phone_next_to_a_date_is_still_masked() -> None:
    # GIVEN a date followed by a phone number
    # WHEN it is masked
    masked = mask_text("on 2024-01-15 lead +55 11 91234-5678 wrote")

    # THEN the date survives and the phone does not
    assert masked == f"on 2024-01-15 lead {MASK}78 wrote"


@pytest.mark.parametrize(
    "identifier",
    [
        "12345678-abcd-4bcd-8bcd-abcdefabcdef",
        "3f2a9c4e-1234-4567-8901-abcdefabcdef",
        "3f2a9c4e-1b2d-4c5e-8f9a-123456789012",
        "12345678-1234-4567-8901-123456789012",
    ],
)
def test_uuids_with_digit_runs_are_not_taken_for_phones(identifier: str) -> None:
    # GIVEN a request or organization id whose hex groups happen to be all digits
    text = f"organization {identifier} called from +55 11 91234-5678"

    # WHEN it is masked
    masked = mask_text(text)

    # THEN the id survives for correlation and the phone is still masked
    assert masked == f"organization {identifier} called from {MASK}78"
