"""POST /organizations/{organization_id}/members: add a user, or invite an e-mail, with a role."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.organizations import service
from shared.organizations.models import AddMember, MemberAdded

app = create_app("add-member")


@app.post(
    "/organizations/{organization_id}/members",
    status_code=201,
    response_model=MemberAdded,
    responses=problems(400, 401, 403, 404, 422),
    tags=["organizations"],
)
async def add_member(organization_id: uuid.UUID, body: AddMember, user: CurrentUser) -> MemberAdded:
    """Owners and admins add members; only owners may grant ``owner``."""
    return await service.add_member(user, organization_id, body)


handler = Mangum(app, lifespan="off")
