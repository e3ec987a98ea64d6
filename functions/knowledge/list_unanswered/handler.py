"""GET /agents/{agent_id}/knowledge/unanswered: questions the agent's knowledge base could not answer."""

import uuid
from typing import Annotated

from fastapi import Query
from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.knowledge.unanswered import UnansweredList, list_unanswered

app = create_app("list-unanswered-questions")


@app.get(
    "/agents/{agent_id}/knowledge/unanswered",
    response_model=UnansweredList,
    responses=problems(401, 404, 422),
    tags=["knowledge"],
)
async def list_unanswered_questions(
    agent_id: uuid.UUID,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> UnansweredList:
    """Every member lists the questions the agent could not answer from its sources, newest first."""
    return await list_unanswered(user, agent_id, limit, cursor)


handler = Mangum(app, lifespan="off")
