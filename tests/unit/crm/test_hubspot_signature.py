"""HubSpot's v3 request signature: HMAC-SHA256 over method + URI + body + timestamp, base64, five minutes."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from shared.crm.inbound.hubspot import SignedRequest, verify

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://api.example.com/webhooks/hubspot"
BODY = b'[{"eventId":1,"portalId":62515,"objectId":123,"propertyName":"dealstage","propertyValue":"closedwon"}]'
NOW_MS = 1_795_000_000_000


def _signed(timestamp: int = NOW_MS, body: bytes = BODY, uri: str = URI, method: str = "POST") -> SignedRequest:
    """A request signed the way HubSpot's documentation describes, computed independently of the code."""
    source = method.encode() + uri.encode() + body + str(timestamp).encode()
    digest = base64.b64encode(hmac.new(SECRET.encode(), source, hashlib.sha256).digest()).decode()
    return SignedRequest(method=method, uri=uri, body=body, signature=digest, timestamp=str(timestamp))


def test_a_request_signed_with_the_client_secret_verifies() -> None:
    assert verify(SECRET, _signed(), now_ms=NOW_MS)


def test_a_signature_four_minutes_old_still_verifies_but_six_minutes_old_does_not() -> None:
    assert verify(SECRET, _signed(NOW_MS - 4 * 60_000), now_ms=NOW_MS)
    assert not verify(SECRET, _signed(NOW_MS - 6 * 60_000), now_ms=NOW_MS)
    assert not verify(SECRET, _signed(NOW_MS + 6 * 60_000), now_ms=NOW_MS)


@pytest.mark.parametrize(
    "change",
    [
        {"body": BODY.replace(b"closedwon", b"closedlost")},
        {"uri": "https://api.example.com/webhooks/other"},
        {"method": "PUT"},
        {"signature": None},
        {"signature": ""},
        {"timestamp": None},
        {"timestamp": "12ab"},
        {"timestamp": str(NOW_MS + 1)},
    ],
)
def test_any_change_to_what_was_signed_fails(change: dict[str, object]) -> None:
    # given a correctly signed request / when one signed part differs from what was signed / then it fails
    signed = _signed()
    request = SignedRequest(**{**signed.__dict__, **change})  # type: ignore[arg-type]
    assert not verify(SECRET, request, now_ms=NOW_MS)


def test_another_secret_fails() -> None:
    assert not verify("another-secret", _signed(), now_ms=NOW_MS)


def test_url_encoded_characters_in_the_uri_are_decoded_as_hubspot_does() -> None:
    # given HubSpot signed the decoded URI / when we see it encoded / then it still verifies
    signed = _signed(uri="https://api.example.com/webhooks/hubspot?a=b:c")
    request = SignedRequest(**{**signed.__dict__, "uri": "https://api.example.com/webhooks/hubspot?a=b%3Ac"})
    assert verify(SECRET, request, now_ms=NOW_MS)
