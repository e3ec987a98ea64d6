"""GET /agents/{agent_id}: an agent with its current configuration, or with ``?version=N``."""

import uuid
from typing import Annotated

from fastapi import Query, Response
from mangum import Mangum

from shared.agents import service
from shared.agents.models import Agent
from shared.agents.versions import etag
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("get-agent")


@app.get("/agents/{agent_id}", response_model=Agent, responses=problems(401, 404, 422), tags=["agents"])
async def get_agent(
    agent_id: uuid.UUID,
    user: CurrentUser,
    response: Response,
    version: Annotated[int | None, Query(ge=1, description="a past configuration version")] = None,
) -> Agent:
    """Every member reads agents; the ``ETag`` is the current version, for ``If-Match`` on update."""
    agent = await service.get_agent(user, agent_id, version)
    response.headers["ETag"] = etag(agent.current_version)
    return agent


handler = Mangum(app, lifespan="off")
