"""GET /organizations/{organization_id}/integrations: the organization's integrations, without credentials."""

import uuid
from typing import Annotated

from fastapi import Query
from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.integrations import service
from shared.integrations.kinds import Kind
from shared.integrations.models import IntegrationList

app = create_app("list-integrations")


@app.get(
    "/organizations/{organization_id}/integrations",
    response_model=IntegrationList,
    responses=problems(401, 404, 422),
    tags=["integrations"],
)
async def list_integrations(
    organization_id: uuid.UUID,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    kind: Kind | None = None,
) -> IntegrationList:
    """Every member lists the integrations, newest first; ``has_credentials`` says whether they are set."""
    return await service.list_integrations(user, organization_id, limit, cursor, kind)


handler = Mangum(app, lifespan="off")
