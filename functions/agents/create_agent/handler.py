"""POST /organizations/{organization_id}/agents: create an agent at configuration version 1."""

import uuid

from mangum import Mangum

from shared.agents import service
from shared.agents.models import Agent, CreateAgent
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader

app = create_app("create-agent")


@app.post(
    "/organizations/{organization_id}/agents",
    status_code=201,
    response_model=Agent,
    responses=problems(400, 401, 403, 404, 409, 422),
    tags=["agents"],
)
async def create_agent(
    organization_id: uuid.UUID, body: CreateAgent, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> Agent:
    """Owners, admins and editors create agents; ``preset: "bant"`` fills in the BANT fields."""
    return await service.create_agent(user, organization_id, body, idempotency_key)


handler = Mangum(app, lifespan="off")
