"""How CRM call failures are classified (respx at the HTTP boundary): retry, or fail for good."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from shared.crm.http import ProviderError, call
from tests.support.aio import run

URL = "https://crm.example.com/v1/things"


@pytest.fixture
def crm() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def _fail(crm: respx.MockRouter, response: httpx.Response | Exception) -> ProviderError:
    crm.post(URL).mock(side_effect=[response])
    with pytest.raises(ProviderError) as caught:
        run(call("crm", "POST", URL, headers={}, json={}))
    return caught.value


def test_a_2xx_returns_the_json_body(crm: respx.MockRouter) -> None:
    crm.post(URL).mock(return_value=httpx.Response(201, json={"id": "1"}))
    assert run(call("crm", "POST", URL, headers={}, json={})) == {"id": "1"}


@pytest.mark.parametrize("status", [401, 403, 408, 429, 500, 502, 503, 504])
def test_rate_limits_outages_and_refused_credentials_are_retried(crm: respx.MockRouter, status: int) -> None:
    error = _fail(crm, httpx.Response(status, json={"message": "try later"}))
    assert (error.retryable, error.status) == (True, status)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR"},
            "Property values",
        ),
        ({"success": False, "error": "Bad request: title is required"}, "title is required"),
        (
            {"errors": [{"error_type": "INVALID_OPTION", "error_message": "Must be one of the valid options."}]},
            "valid options",
        ),
        ({"errors": {"error_type": "CANNOT_BE_NULL", "error_message": "Cannot be null."}}, "Cannot be null"),
    ],
    ids=["hubspot", "pipedrive", "rd list", "rd object"],
)
def test_a_validation_error_is_final_and_keeps_the_providers_message(
    crm: respx.MockRouter, body: dict[str, object], message: str
) -> None:
    error = _fail(crm, httpx.Response(400, json=body))
    assert not error.retryable
    assert message in error.message


def test_timeouts_and_network_errors_are_retried_without_the_url(crm: respx.MockRouter) -> None:
    assert _fail(crm, httpx.ReadTimeout("slow")).retryable
    error = _fail(crm, httpx.ConnectError("https://crm.example.com/?api_key=secret refused"))
    assert error.retryable
    assert "secret" not in str(error)


def test_personal_data_in_a_providers_message_is_masked_in_the_detail(crm: respx.MockRouter) -> None:
    error = _fail(crm, httpx.Response(409, json={"message": "maria.souza@example.com already exists"}))
    assert "maria.souza@example.com" not in error.detail
