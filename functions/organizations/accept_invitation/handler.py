"""POST /invitations/{invitation_id}/accept: join the organization that invited my confirmed e-mail."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.organizations import service
from shared.organizations.models import InvitationAccepted

app = create_app("accept-invitation")


@app.post(
    "/invitations/{invitation_id}/accept",
    response_model=InvitationAccepted,
    responses=problems(401, 404),
    tags=["organizations"],
)
async def accept_invitation(invitation_id: uuid.UUID, user: CurrentUser) -> InvitationAccepted:
    """Only the invitee, signed in with the invited e-mail confirmed; anything else is 404."""
    return await service.accept_invitation(user, invitation_id)


handler = Mangum(app, lifespan="off")
