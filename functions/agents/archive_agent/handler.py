"""DELETE /agents/{agent_id}: archive an agent (soft delete); it starts no new conversations."""

import uuid

from fastapi import Response
from mangum import Mangum

from shared.agents import service
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("archive-agent")


@app.delete(
    "/agents/{agent_id}", status_code=204, response_class=Response, responses=problems(401, 403, 404), tags=["agents"]
)
async def archive_agent(agent_id: uuid.UUID, user: CurrentUser) -> Response:
    """Owners, admins and editors archive; its conversations, leads and versions are kept."""
    await service.archive_agent(user, agent_id)
    return Response(status_code=204)


handler = Mangum(app, lifespan="off")
