"""The CA-Signature scheme and its reference verifier (Stripe's: t=…,v1=…, HMAC-SHA256 over "t.body")."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from shared.webhooks.signing import sign, verify

SECRET = "whsec_0123456789abcdef0123456789abcdef"
OTHER = "whsec_fedcba9876543210fedcba9876543210"
NOW = 1_790_000_000
BODY = b'{"id":"evt_1","type":"lead.qualified","data":{"lead_id":"42"}}'


def test_a_signed_body_verifies() -> None:
    # given a body signed now / when verified with the same secret / then it is accepted
    header = sign(BODY, [SECRET], NOW)
    assert verify(BODY, header, SECRET, now=NOW)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # given a signed body / then v1 is the hex HMAC-SHA256 of "{t}.{body}", as receivers compute it
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, [SECRET], NOW) == f"t={NOW},v1={expected}"


def test_a_tampered_body_is_rejected() -> None:
    # given a signature of one body / when another body is presented with it / then it is rejected
    header = sign(BODY, [SECRET], NOW)
    assert not verify(BODY.replace(b"42", b"43"), header, SECRET, now=NOW)


def test_a_wrong_secret_is_rejected() -> None:
    header = sign(BODY, [SECRET], NOW)
    # when verified with another secret / then it is rejected
    assert not verify(BODY, header, OTHER, now=NOW)


def test_a_timestamp_older_than_five_minutes_is_rejected() -> None:
    # given a signature made 301 s ago (a replay) / then it is rejected, while 300 s is still fine
    assert not verify(BODY, sign(BODY, [SECRET], NOW - 301), SECRET, now=NOW)
    assert verify(BODY, sign(BODY, [SECRET], NOW - 300), SECRET, now=NOW)


def test_a_timestamp_far_in_the_future_is_rejected() -> None:
    assert not verify(BODY, sign(BODY, [SECRET], NOW + 301), SECRET, now=NOW)


def test_during_a_rotation_each_secret_verifies_its_own_v1() -> None:
    # given a delivery signed with the new and the previous secret
    header = sign(BODY, [OTHER, SECRET], NOW)
    # then it carries two v1 values, and a receiver holding either secret accepts it
    assert header.count("v1=") == 2
    assert verify(BODY, header, SECRET, now=NOW)
    assert verify(BODY, header, OTHER, now=NOW)
    assert not verify(BODY, header, "whsec_neither", now=NOW)


def test_non_ascii_bodies_are_signed_as_raw_bytes() -> None:
    # given a UTF-8 body with accents and emoji (never re-serialized)
    body = '{"nome":"João Ação 🚀","email":"joão@exemplo.com.br"}'.encode()
    header = sign(body, [SECRET], NOW)
    # then the exact bytes verify, and the same text escaped as ASCII JSON does not
    assert verify(body, header, SECRET, now=NOW)
    assert not verify(b'{"nome":"Jo\\u00e3o"}', header, SECRET, now=NOW)


@pytest.mark.parametrize(
    "header",
    ["", "v1=abc", f"t={NOW}", f"t=abc,v1={'0' * 64}", f"t={NOW},v0={'0' * 64}", f"t={NOW},v1=é", "garbage"],
)
def test_malformed_headers_are_rejected(header: str) -> None:
    # given a header without a usable timestamp or v1 / then verification fails without raising
    assert not verify(BODY, header, SECRET, now=NOW)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(BODY, [], NOW)
