"""GET /invitations: the pending invitations to my confirmed e-mail."""

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.organizations import service
from shared.organizations.models import InvitationList

app = create_app("list-invitations")


@app.get("/invitations", response_model=InvitationList, responses=problems(401), tags=["organizations"])
async def list_invitations(user: CurrentUser) -> InvitationList:
    """Invitations to my e-mail; empty until the e-mail is confirmed."""
    return InvitationList(data=await service.list_my_invitations(user))


handler = Mangum(app, lifespan="off")
