"""The SSRF guard: every spelling of an internal address, resolution, pinning and redirects (no DNS, no network)."""

from __future__ import annotations

import httpx
import pytest
import respx

from shared import public_urls
from tests.support.aio import run

PUBLIC = "93.184.216.34"


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A resolver answering from this table (tests never query real DNS)."""
    table: dict[str, list[str]] = {}

    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("name does not resolve")
        return table[host]

    monkeypatch.setattr(public_urls, "resolver", resolve)
    return table


@pytest.mark.parametrize(
    ("host", "spelled"),
    [("127.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.0.0.1", "127.0.0.1"), ("10.1", "10.0.0.1"),
     ("169.254.43518", "169.254.169.254"), ("2130706433", "127.0.0.1"), ("[::ffff:7f00:1]", "::ffff:7f00:1")],
)  # fmt: skip
def test_short_and_odd_forms_are_the_addresses_they_spell(host: str, spelled: str) -> None:
    # when the host is read / then it is that address, and refused
    assert str(public_urls.literal_address(host)) == spelled
    with pytest.raises(public_urls.NotPublic):
        public_urls.check_host(host)


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "2002:a9fe:a9fe::1",
        "64:ff9b::7f00:1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "ff02::1",
        "fe80::1",
        "fc00::1",
    ],
)
def test_ipv6_forms_that_carry_an_internal_address_are_refused(address: str) -> None:
    with pytest.raises(public_urls.NotPublic):
        public_urls.check_host(address)


def test_a_public_address_and_a_name_pass_the_static_check() -> None:
    assert str(public_urls.check_host(PUBLIC)) == PUBLIC
    assert public_urls.check_host("hooks.example.com") is None  # resolved and checked when called


def test_every_resolved_address_must_be_public(dns: dict[str, list[str]]) -> None:
    # given a name with one public and one private address / then it is refused
    dns["mixed.example.com"] = [PUBLIC, "10.0.0.5"]
    with pytest.raises(public_urls.NotPublic, match="not a public address"):
        run(public_urls.pin("https://mixed.example.com/x"))
    # and an unresolvable name is refused too
    with pytest.raises(public_urls.NotPublic, match="does not resolve"):
        run(public_urls.pin("https://nowhere.example.com/x"))


def test_the_request_goes_to_the_checked_address_with_the_name_for_host_and_sni(dns: dict[str, list[str]]) -> None:
    dns["hooks.example.com"] = [PUBLIC]
    pinned = run(public_urls.pin("https://hooks.example.com:8443/in?x=1"))
    assert pinned.url == f"https://{PUBLIC}:8443/in?x=1"
    assert pinned.headers == {"host": "hooks.example.com:8443"}
    assert pinned.extensions == {"sni_hostname": "hooks.example.com"}


def test_each_redirect_is_checked_again(dns: dict[str, list[str]]) -> None:
    # given a public page that redirects to the metadata service
    dns["docs.example.com"] = [PUBLIC]
    with respx.mock(assert_all_called=True) as router:
        router.get(f"https://{PUBLIC}/faq").mock(
            return_value=httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"})
        )

        async def fetch() -> httpx.Response:
            async with httpx.AsyncClient() as client:
                return await public_urls.send(client, "GET", "https://docs.example.com/faq", max_redirects=3)

        # when it is fetched following redirects / then the second hop is refused before any connection
        with pytest.raises(public_urls.NotPublic, match="public host"):
            run(fetch())


def test_loopback_is_allowed_only_when_asked(dns: dict[str, list[str]]) -> None:
    assert str(run(public_urls.pin("http://127.0.0.1:9000/h", allow_loopback=True)).url).startswith("http://127.0.0.1")
    with pytest.raises(public_urls.NotPublic):
        run(public_urls.pin("http://127.0.0.1:9000/h"))
    with pytest.raises(public_urls.NotPublic):
        run(public_urls.pin("http://10.0.0.1/h", allow_loopback=True))
