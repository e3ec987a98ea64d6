"""GET /organizations: the organizations the caller belongs to."""

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.organizations import service
from shared.organizations.models import OrganizationList

app = create_app("list-organizations")


@app.get("/organizations", response_model=OrganizationList, responses=problems(401), tags=["organizations"])
async def list_organizations(user: CurrentUser) -> OrganizationList:
    """List my organizations with my role in each."""
    return OrganizationList(data=await service.list_my_organizations(user))


handler = Mangum(app, lifespan="off")
