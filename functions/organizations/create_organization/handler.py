"""POST /organizations: create an organization; the caller becomes its owner."""

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader
from shared.organizations import service
from shared.organizations.models import CreateOrganization, Organization

app = create_app("create-organization")


@app.post(
    "/organizations",
    status_code=201,
    response_model=Organization,
    responses=problems(400, 401, 409, 422),
    tags=["organizations"],
)
async def create_organization(
    body: CreateOrganization, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> Organization:
    """Create an organization owned by the caller."""
    return await service.create_organization(user, body, idempotency_key)


handler = Mangum(app, lifespan="off")
