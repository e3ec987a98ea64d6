"""Organization use cases; each is one transaction under the caller's claims."""

from __future__ import annotations

import uuid
from typing import LiteralString

from shared import idempotency
from shared.auth import Principal
from shared.db import user_read, user_session, user_write
from shared.errors import AppError, IdempotentReplay
from shared.idempotency import IdempotencyKey
from shared.observability import metrics
from shared.observability.context import bind_organization
from shared.organizations.models import (
    AddMember,
    CreateOrganization,
    Invitation,
    InvitationAccepted,
    MemberAdded,
    Organization,
)

# The new organization (its creator is its owner), remembered as the answer to the request's Idempotency-Key.
_CREATE: LiteralString = """
    select o.id, o.name, o.slug, o.created_at,
           app.remember_response(%(idem_key)s, %(idem_hash)s, o.id, 201, jsonb_build_object(
               'id', o.id, 'name', o.name, 'slug', o.slug, 'role', 'owner', 'created_at', o.created_at
           ), %(idem_scope)s)
    from public.create_organization(%(name)s, %(slug)s) o
"""
# Oldest first, with the caller's role; app.list_my_organizations is PL/pgSQL, so its plan is kept per connection.
_MY_ORGANIZATIONS = "select id, name, slug, created_at, role from app.list_my_organizations()"


async def create_organization(
    principal: Principal, data: CreateOrganization, key: IdempotencyKey | None = None
) -> Organization:
    """Create an organization whose owner is the caller; a repeated ``key`` answers with the first one made."""
    params = {"name": data.name, "slug": data.slug, **idempotency.remembered(key)}
    try:
        rows = await user_write(principal.claims, idempotency.claim_first(key), (_CREATE, params))
    except IdempotentReplay as replay:
        raise idempotency.replayed_as(replay, Organization) from None
    if not rows:
        raise AppError("organization was not created")
    row = rows[0]
    bind_organization(row["id"])
    metrics.add_metric(name="OrganizationCreated", unit="Count", value=1)
    return Organization(role="owner", id=row["id"], name=row["name"], slug=row["slug"], created_at=row["created_at"])


async def list_my_organizations(principal: Principal) -> list[Organization]:
    """Every organization the caller belongs to, with their role in each."""
    rows = await user_read(principal.claims, _MY_ORGANIZATIONS)
    return [Organization(**row) for row in rows]


async def add_member(principal: Principal, organization_id: uuid.UUID, data: AddMember) -> MemberAdded:
    """Invite ``data.email`` with ``role``; admins and owners only. Nobody joins without accepting."""
    bind_organization(organization_id)
    async with user_session(principal.claims) as db:
        row = await db.one(
            "select public.add_organization_member(%s, %s, %s) as result", (organization_id, data.email, data.role)
        )
    if row is None:
        raise AppError("member was not added")
    return MemberAdded.model_validate(row["result"])


async def list_my_invitations(principal: Principal) -> list[Invitation]:
    """Pending invitations to the caller's e-mail; none until that e-mail is confirmed."""
    rows = await user_read(principal.claims, "select * from public.my_invitations()")
    return [Invitation(**row) for row in rows]


async def accept_invitation(principal: Principal, invitation_id: uuid.UUID) -> InvitationAccepted:
    """Join the organization an invitation to the caller's confirmed e-mail names; 404 otherwise."""
    async with user_session(principal.claims) as db:
        row = await db.one("select public.accept_invitation(%s) as result", (invitation_id,))
    if row is None:
        raise AppError("invitation was not accepted")
    accepted = InvitationAccepted.model_validate(row["result"])
    bind_organization(accepted.organization_id)
    return accepted
