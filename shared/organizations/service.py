"""Organization use cases; each is one transaction under the caller's claims."""

from __future__ import annotations

import uuid

from shared.auth import Principal
from shared.db import user_read, user_session
from shared.errors import AppError
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

# Oldest first, with the caller's role; app.list_my_organizations is PL/pgSQL, so its plan is kept per connection.
_MY_ORGANIZATIONS = "select id, name, slug, created_at, role from app.list_my_organizations()"


async def create_organization(principal: Principal, data: CreateOrganization) -> Organization:
    """Create an organization whose owner is the caller."""
    async with user_session(principal.claims) as db:
        row = await db.one(
            "select id, name, slug, created_at from public.create_organization(%s, %s)", (data.name, data.slug)
        )
    if row is None:
        raise AppError("organization was not created")
    bind_organization(row["id"])
    metrics.add_metric(name="OrganizationCreated", unit="Count", value=1)
    return Organization(role="owner", **row)


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
