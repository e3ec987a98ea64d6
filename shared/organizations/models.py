"""Request and response models for organizations and memberships."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Role = Literal["owner", "admin", "editor", "viewer"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
]


class CreateOrganization(BaseModel):
    """Body of ``POST /organizations``."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug | None = Field(default=None, description="URL-safe id; derived from the name when omitted")


class Organization(BaseModel):
    """An organization as its member sees it, with the member's role."""

    id: uuid.UUID
    name: str
    slug: str
    role: Role
    created_at: datetime


class OrganizationList(BaseModel):
    """Body of ``GET /organizations``."""

    data: list[Organization]


class AddMember(BaseModel):
    """Body of ``POST /organizations/{organization_id}/members``."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    role: Role


class MemberAdded(BaseModel):
    """The invitation sent; the same answer whether or not the e-mail has an account."""

    status: Literal["invited"]
    email: str
    role: Role
    invitation_id: uuid.UUID


class Invitation(BaseModel):
    """A pending invitation to the caller's confirmed e-mail."""

    id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    role: Role
    expires_at: datetime
    created_at: datetime


class InvitationList(BaseModel):
    """Body of ``GET /invitations``."""

    data: list[Invitation]


class InvitationAccepted(BaseModel):
    """The membership an accepted invitation gave the caller."""

    organization_id: uuid.UUID
    role: Role
