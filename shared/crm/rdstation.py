"""RD Station Marketing: conversion events for qualified and handed-off leads, a sale for a conversion.

RD Station identifies contacts by e-mail, so a lead without one is not sent. Its API key only
sends conversions (``POST /platform/conversions?api_key=…``); the OAuth access token sends any
event (``POST /platform/events``, bearer), a ``SALE`` included. Without a token a conversion goes as
a conversion event named by ``sale_identifier``. Steps only go forward: a late event is not resent.
"""

from __future__ import annotations

from typing import Any

from shared.crm.http import call
from shared.crm.jobs import NotSynced, SyncJob, SyncResult
from shared.settings import get_settings

PROVIDER = "rdstation"
_IDENTIFIERS = {
    "qualified": ("qualified_identifier", "conversion-agents-qualified"),
    "handoff": ("handoff_identifier", "conversion-agents-handoff"),
    "converted": ("sale_identifier", "conversion-agents-sale"),
}


def _url(path: str) -> str:
    return get_settings().rdstation_api_url.rstrip("/") + path


async def sync(job: SyncJob) -> SyncResult:
    """Send the event for this step (nothing when the lead was already synced this far)."""
    if not job.advances:
        return SyncResult()
    if not job.lead.email:
        raise NotSynced("the lead has no e-mail, which RD Station requires")
    token = job.credentials.get("access_token")
    if job.step == "converted" and token:
        await _send(_event("SALE", _sale_payload(job)), token=token)
    else:
        await _send(_event("CONVERSION", _conversion_payload(job)), api_key=job.credentials.get("api_key"), token=token)
    return SyncResult()


def _event(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": event_type, "event_family": "CDP", "payload": payload}


async def _send(body: dict[str, Any], *, api_key: str | None = None, token: str | None = None) -> None:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if api_key and body["event_type"] == "CONVERSION":
        await call(
            PROVIDER, "POST", _url("/platform/conversions"), headers=headers, json=body, params={"api_key": api_key}
        )
        return
    headers["authorization"] = f"Bearer {token}"
    await call(PROVIDER, "POST", _url("/platform/events"), headers=headers, json=body)


def _conversion_payload(job: SyncJob) -> dict[str, Any]:
    key, default = _IDENTIFIERS[job.step]
    payload: dict[str, Any] = {
        "conversion_identifier": job.config.get(key) or default,
        "email": job.lead.email,
        "name": job.lead.name,
        "mobile_phone": job.lead.phone,
        "tags": ["conversion-agents"],
    }
    return {k: v for k, v in payload.items() if v is not None}


def _sale_payload(job: SyncJob) -> dict[str, Any]:
    payload: dict[str, Any] = {"email": job.lead.email, "funnel_name": job.config.get("funnel_name") or "default"}
    if job.value is not None:
        payload["value"] = float(job.value)
    return payload
