"""Pipedrive (API v1, API token in the ``x-api-token`` header): one person and one deal per lead.

The person is found with ``GET /api/v1/persons/search`` (exact e-mail, then exact phone) or
created; the deal is created once (``POST /api/v1/deals``) and updated after that
(``PUT /api/v1/deals/{id}``): its stage on qualification and handoff, ``status: won`` with its
value and currency on a conversion. The token travels in a header, never in a logged URL.
"""

from __future__ import annotations

from typing import Any

from shared.crm.http import call
from shared.crm.jobs import CrmLead, SyncJob, SyncResult
from shared.settings import get_settings

PROVIDER = "pipedrive"


def _url(path: str) -> str:
    return get_settings().pipedrive_api_url.rstrip("/") + path


async def sync(job: SyncJob) -> SyncResult:
    """Find or create the person, then create or advance the deal."""
    headers = {"x-api-token": job.credentials["api_token"], "accept": "application/json"}
    person_id = job.contact_id or await _find_person(job.lead, headers) or await _create_person(job.lead, headers)
    deal_id = job.deal_id
    if job.advances:
        fields = _deal_fields(job)
        if deal_id is None:
            body = {"title": f"{job.lead.display_name} (Conversion Agents)", "person_id": int(person_id), **fields}
            if job.config.get("pipeline_id"):
                body["pipeline_id"] = job.config["pipeline_id"]
            created = await call(PROVIDER, "POST", _url("/api/v1/deals"), headers=headers, json=body)
            deal_id = str(created["data"]["id"])
        elif fields:
            await call(PROVIDER, "PUT", _url(f"/api/v1/deals/{deal_id}"), headers=headers, json=fields)
    return SyncResult(contact_id=person_id, deal_id=deal_id)


async def _find_person(lead: CrmLead, headers: dict[str, str]) -> str | None:
    for field, term in (("email", lead.email), ("phone", lead.phone)):
        if not term:
            continue
        params = {"term": term, "fields": field, "exact_match": "true", "limit": "1"}
        found = await call(PROVIDER, "GET", _url("/api/v1/persons/search"), headers=headers, params=params)
        items = ((found.get("data") or {}).get("items") or []) if isinstance(found, dict) else []
        if items and (items[0].get("item") or {}).get("id"):
            return str(items[0]["item"]["id"])
    return None


async def _create_person(lead: CrmLead, headers: dict[str, str]) -> str:
    body: dict[str, Any] = {"name": lead.display_name}
    if lead.email:
        body["email"] = [{"value": lead.email, "primary": True, "label": "work"}]
    if lead.phone:
        body["phone"] = [{"value": lead.phone, "primary": True, "label": "mobile"}]
    created = await call(PROVIDER, "POST", _url("/api/v1/persons"), headers=headers, json=body)
    return str(created["data"]["id"])


def _deal_fields(job: SyncJob) -> dict[str, Any]:
    config = job.config
    if job.step == "converted":
        fields: dict[str, Any] = {"status": "won"}
        if job.value is not None:
            fields["value"] = float(job.value)
            fields["currency"] = (job.currency or config.get("currency") or "BRL").upper()
        return fields
    stage = config.get("qualified_stage_id") if job.step == "qualified" else config.get("handoff_stage_id")
    return {"stage_id": stage} if stage else {}
