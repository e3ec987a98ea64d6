"""GET /organizations/{organization_id}/agents: the organization's agents, a page at a time."""

import uuid
from typing import Annotated

from fastapi import Query
from mangum import Mangum

from shared.agents import service
from shared.agents.models import AgentList
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("list-agents")


@app.get(
    "/organizations/{organization_id}/agents",
    response_model=AgentList,
    responses=problems(401, 404, 422),
    tags=["agents"],
)
async def list_agents(
    organization_id: uuid.UUID,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    include_archived: bool = False,
) -> AgentList:
    """Every member lists agents, newest first; archived ones only with ``include_archived=true``."""
    return await service.list_agents(user, organization_id, limit, cursor, include_archived)


handler = Mangum(app, lifespan="off")
