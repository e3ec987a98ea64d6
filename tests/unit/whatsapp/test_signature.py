"""X-Hub-Signature-256 over the raw bytes, and the GET verify token; both constant-time, both configured."""

from __future__ import annotations

import json

import pytest

from shared.errors import Forbidden, Unauthorized
from shared.whatsapp import signature
from shared.whatsapp.signature import NotConfigured
from tests.unit.whatsapp.conftest import APP_SECRET, VERIFY_TOKEN, load

# What Meta sends for "Olá, é você? @loja": non-ASCII escaped, so the signed bytes are ASCII.
ESCAPED = b'{"text":{"body":"Ol\\u00e1, \\u00e9 voc\\u00ea? @loja"}}'


def test_a_signature_made_with_the_app_secret_matches_the_raw_bytes() -> None:
    # given a delivery body and the header Meta would send for it
    body = json.dumps(load("text.json")).encode()
    header = signature.sign(body, APP_SECRET)
    # when it is checked / then it matches, and upper-case hex is the same digest
    assert signature.signature_matches(body, header, APP_SECRET)
    assert signature.signature_matches(body, "sha256=" + header.removeprefix("sha256=").upper(), APP_SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        "sha256=" + "z" * 64,
        "sha256=" + "0" * 63,
        "sha256=" + "0" * 65,
        "0" * 64,
    ],
    ids=["missing", "empty", "no-digest", "sha1", "not-hex", "short", "long", "no-prefix"],
)
def test_a_missing_or_malformed_header_never_matches(header: str | None) -> None:
    assert not signature.signature_matches(b"{}", header, APP_SECRET)


def test_a_forged_signature_or_another_secret_does_not_match() -> None:
    # given a body signed with another secret, and a body changed after signing
    body = b'{"object":"whatsapp_business_account"}'
    # then neither matches
    assert not signature.signature_matches(body, signature.sign(body, "not-the-app-secret"), APP_SECRET)
    assert not signature.signature_matches(body + b" ", signature.sign(body, APP_SECRET), APP_SECRET)


def test_meta_signs_escaped_unicode_so_a_reserialised_body_fails() -> None:
    # given Meta's escaped body and its signature
    header = signature.sign(ESCAPED, APP_SECRET)
    # when the same JSON is re-serialised (é written as UTF-8, spaces added)
    reserialised = json.dumps(json.loads(ESCAPED), ensure_ascii=False).encode()
    # then only the exact bytes verify
    assert signature.signature_matches(ESCAPED, header, APP_SECRET)
    assert not signature.signature_matches(reserialised, header, APP_SECRET)


def test_verify_delivery_raises_401_on_a_bad_signature(settings_env: pytest.MonkeyPatch) -> None:
    signature.verify_delivery(b"{}", signature.sign(b"{}", APP_SECRET))
    with pytest.raises(Unauthorized):
        signature.verify_delivery(b"{}", signature.sign(b"{ }", APP_SECRET))


def test_the_subscription_echoes_the_challenge_only_for_our_token(settings_env: pytest.MonkeyPatch) -> None:
    assert signature.verify_subscription("subscribe", VERIFY_TOKEN, "1158201444") == "1158201444"
    for mode, token, challenge in (
        ("subscribe", "wrong", "1"),
        ("unsubscribe", VERIFY_TOKEN, "1"),
        ("subscribe", None, "1"),
        ("subscribe", VERIFY_TOKEN, None),
    ):
        with pytest.raises(Forbidden):
            signature.verify_subscription(mode, token, challenge)


def test_without_secrets_the_webhook_is_not_configured(settings_env: pytest.MonkeyPatch) -> None:
    # given neither secret set
    from shared.settings import get_settings

    settings_env.delenv("WHATSAPP_APP_SECRET")
    settings_env.delenv("WHATSAPP_VERIFY_TOKEN")
    get_settings.cache_clear()
    # when either check runs / then 503, not a 500 and not a pass
    with pytest.raises(NotConfigured) as refused:
        signature.verify_delivery(b"{}", signature.sign(b"{}", APP_SECRET))
    assert refused.value.status == 503
    with pytest.raises(NotConfigured):
        signature.verify_subscription("subscribe", VERIFY_TOKEN, "1")
