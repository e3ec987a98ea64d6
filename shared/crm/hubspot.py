"""HubSpot (CRM API v3, private app token): contacts deduplicated by e-mail or phone, one deal per lead.

A contact is found with ``POST /crm/v3/objects/contacts/search`` (filter groups are ORed: e-mail,
then phone), then updated, or created. The deal is created once, associated to the contact with
HubSpot's default deal-to-contact association (type 3), and moved along its pipeline after that.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from shared.crm.http import ProviderError, call
from shared.crm.jobs import CrmLead, SyncJob, SyncResult
from shared.settings import get_settings

PROVIDER = "hubspot"
DEAL_TO_CONTACT = 3
_EXISTING_ID = re.compile(r"Existing ID: ?(\d+)")


def _url(path: str) -> str:
    return get_settings().hubspot_api_url.rstrip("/") + path


def _headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "content-type": "application/json"}


async def sync(job: SyncJob) -> SyncResult:
    """Upsert the lead's contact, then create or advance its deal."""
    headers = _headers(job.credentials["access_token"])
    contact_id = await _upsert_contact(job.lead, job.contact_id, headers)
    deal_id = job.deal_id
    if job.advances:
        properties = _deal_properties(job)
        if deal_id is not None and properties["properties"]:
            await call(PROVIDER, "PATCH", _url(f"/crm/v3/objects/deals/{deal_id}"), headers=headers, json=properties)
        elif deal_id is None:
            deal_id = await _create_deal(properties, contact_id, headers)
    return SyncResult(contact_id=contact_id, deal_id=deal_id)


async def fetch_deal(deal_id: str, token: str) -> dict[str, Any]:
    """A deal's amount and currency (for a won deal reported by a webhook)."""
    params = {"properties": "amount,deal_currency_code,dealstage"}
    found = await call(
        PROVIDER, "GET", _url(f"/crm/v3/objects/deals/{deal_id}"), headers=_headers(token), params=params
    )
    return dict(found.get("properties") or {}) if isinstance(found, dict) else {}


async def _upsert_contact(lead: CrmLead, known_id: str | None, headers: dict[str, str]) -> str:
    properties = _contact_properties(lead)
    contact_id = known_id or await _find_contact(lead, headers)
    if contact_id is not None:
        url = _url(f"/crm/v3/objects/contacts/{contact_id}")
        await call(PROVIDER, "PATCH", url, headers=headers, json={"properties": properties})
        return contact_id
    try:
        created = await call(
            PROVIDER, "POST", _url("/crm/v3/objects/contacts"), headers=headers, json={"properties": properties}
        )
    except ProviderError as exc:
        # The search index lags writes: a contact created moments ago is refused as a duplicate.
        existing = _EXISTING_ID.search(exc.message) if exc.status == 409 else None
        if existing is None:
            raise
        return existing.group(1)
    return str(created["id"])


async def _find_contact(lead: CrmLead, headers: dict[str, str]) -> str | None:
    groups = [
        {"filters": [{"propertyName": name, "operator": "EQ", "value": value}]}
        for name, value in (("email", lead.email), ("phone", lead.phone))
        if value
    ]
    body = {"filterGroups": groups, "properties": ["email", "phone"], "limit": 10}
    found = await call(PROVIDER, "POST", _url("/crm/v3/objects/contacts/search"), headers=headers, json=body)
    results = [r for r in found.get("results", []) if isinstance(r, dict) and r.get("id")]
    # Prefer the contact with the lead's e-mail over one that only shares a phone number.
    by_email = [r for r in results if lead.email and (r.get("properties") or {}).get("email") == lead.email]
    best = by_email or results
    return str(best[0]["id"]) if best else None


async def _create_deal(properties: dict[str, Any], contact_id: str, headers: dict[str, str]) -> str:
    association = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": DEAL_TO_CONTACT}
    body = {**properties, "associations": [{"to": {"id": contact_id}, "types": [association]}]}
    created = await call(PROVIDER, "POST", _url("/crm/v3/objects/deals"), headers=headers, json=body)
    return str(created["id"])


def _contact_properties(lead: CrmLead) -> dict[str, str]:
    first, last = lead.name_parts()
    values = {"email": lead.email, "phone": lead.phone, "firstname": first, "lastname": last}
    return {key: value for key, value in values.items() if value}


def _deal_properties(job: SyncJob) -> dict[str, Any]:
    """The deal's stage (and amount once converted); its name and pipeline only when it is created."""
    config = job.config
    qualified = config.get("qualified_stage") or "qualifiedtobuy"
    stage = {
        "qualified": qualified,
        "handoff": config.get("handoff_stage") or (None if job.deal_id else qualified),
        "converted": config.get("won_stage") or "closedwon",
    }.get(job.step)
    values: dict[str, Any] = {}
    if job.deal_id is None:
        values["dealname"] = f"{job.lead.display_name} (Conversion Agents)"
        values["pipeline"] = config.get("pipeline") or "default"
    if stage:
        values["dealstage"] = stage
    if job.step == "converted" and job.value is not None:
        values["amount"] = str(Decimal(job.value))
    return {"properties": values}
