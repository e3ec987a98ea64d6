"""Endpoint URLs: public https in staging and prod; plain http to loopback only in dev and test."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.webhooks.urls import check_webhook_url


@pytest.mark.parametrize("url", ["https://hooks.example.com/ca", "https://example.com:8443/in?tenant=1"])
def test_public_https_urls_are_accepted_everywhere(app_env_is: Callable[[str], None], url: str) -> None:
    # given production / then a public https URL is kept as given
    app_env_is("prod")
    assert check_webhook_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/ca", "https"),
        ("http://127.0.0.1:8080/hook", "https"),
        ("https://127.0.0.1/hook", "public"),
        ("https://10.0.0.7/hook", "public"),
        ("https://169.254.169.254/latest/meta-data", "public"),
        ("https://[::1]/hook", "public"),
        ("https://localhost/hook", "public"),
        ("https://metadata/hook", "public"),
        ("https://db.internal/hook", "public"),
        ("https://user:pass@hooks.example.com/", "credentials"),
        ("ftp://hooks.example.com/", "https"),
        ("hooks.example.com/ca", "https"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("https://hooks.example.com:99999/", "port"),
        ("https://hooks.example.com/" + "a" * 2048, "2048"),
    ],
)
def test_other_urls_are_refused_in_production(app_env_is: Callable[[str], None], url: str, reason: str) -> None:
    # given production / when an endpoint names the URL / then it is refused, saying why
    app_env_is("prod")
    with pytest.raises(ValueError, match=reason):
        check_webhook_url(url)


@pytest.mark.parametrize("env", ["dev", "test"])
def test_loopback_http_is_allowed_for_local_receivers(app_env_is: Callable[[str], None], env: str) -> None:
    # given a laptop or the test suite / then a receiver on loopback may use plain http
    app_env_is(env)
    assert check_webhook_url("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/hook"
    assert check_webhook_url("http://localhost:3001/") == "http://localhost:3001/"
    # but other plain-http hosts are still refused
    with pytest.raises(ValueError, match="https"):
        check_webhook_url("http://hooks.example.com/")
