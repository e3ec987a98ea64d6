"""Per-kind integration models, error locations of the create body, and the deal steps of a sync."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from shared.crm.jobs import CrmLead, SyncJob
from shared.integrations.kinds import HubSpotCredentials, RDStationCredentials, secret_values
from shared.integrations.validation import relocate

TOKEN = "pat-na1-3f1e9c2a-7b6d-4e5f-8a9b-0c1d2e3f4a5b"


def test_credentials_never_show_in_a_repr_but_reach_the_vault_in_plain() -> None:
    credentials = HubSpotCredentials.model_validate({"access_token": f"  {TOKEN} "})
    assert TOKEN not in repr(credentials)
    assert secret_values(credentials) == {"access_token": TOKEN}


def test_rdstation_needs_an_api_key_or_an_access_token() -> None:
    with pytest.raises(ValidationError):
        RDStationCredentials.model_validate({"webhook_token": "t" * 20})
    assert secret_values(RDStationCredentials.model_validate({"api_key": "k" * 20, "webhook_token": "t" * 20})) == {
        "api_key": "k" * 20,
        "webhook_token": "t" * 20,
    }


def test_the_union_tag_is_taken_out_of_error_locations() -> None:
    errors = [
        {"type": "missing", "loc": ("body", "hubspot", "credentials", "access_token"), "msg": "Field required"},
        {"type": "union_tag_invalid", "loc": ("body",), "msg": "Input tag 'x' found using 'kind' does not match"},
        {"type": "missing", "loc": ("body", "name"), "msg": "Field required"},
    ]
    assert [e["loc"] for e in relocate(errors)] == [
        ("body", "credentials", "access_token"),
        ("body", "kind"),
        ("body", "name"),
    ]


def _job(step: str, synced: str | None) -> SyncJob:
    lead = CrmLead(uuid.uuid4(), "Ana Maria Lima", "ana@example.com", None)
    return SyncJob(uuid.uuid4(), "x", step, lead, {}, {"access_token": TOKEN}, synced_step=synced)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("step", "synced", "advances"),
    [
        ("qualified", None, True),
        ("handoff", "qualified", True),
        ("converted", "handoff", True),
        ("qualified", "handoff", False),
        ("converted", "converted", False),
        ("handoff", "lost", False),
    ],
)
def test_steps_only_go_forward(step: str, synced: str | None, advances: bool) -> None:
    assert _job(step, synced).advances is advances


def test_a_job_never_prints_its_credentials_and_splits_the_name() -> None:
    job = _job("qualified", None)
    assert TOKEN not in repr(job)
    assert job.lead.name_parts() == ("Ana", "Maria Lima")
