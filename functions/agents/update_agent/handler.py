"""PATCH /agents/{agent_id}: change an agent; a changed configuration becomes a new version."""

import uuid
from typing import Annotated

from fastapi import Header, Response
from mangum import Mangum

from shared.agents import service
from shared.agents.models import Agent, UpdateAgent
from shared.agents.versions import etag
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("update-agent")


@app.patch(
    "/agents/{agent_id}",
    response_model=Agent,
    responses=problems(400, 401, 403, 404, 409, 422),
    tags=["agents"],
)
async def update_agent(
    agent_id: uuid.UUID,
    body: UpdateAgent,
    user: CurrentUser,
    response: Response,
    if_match: Annotated[str | None, Header(description='the ETag of a GET, e.g. "3"; 409 when stale')] = None,
) -> Agent:
    """Owners, admins and editors update; conversations keep the version they started with."""
    agent = await service.update_agent(user, agent_id, body, if_match)
    response.headers["ETag"] = etag(agent.current_version)
    return agent


handler = Mangum(app, lifespan="off")
