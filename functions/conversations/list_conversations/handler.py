"""GET /organizations/{organization_id}/conversations: the organization's conversations, newest first."""

import uuid
from typing import Annotated

from fastapi import Query
from mangum import Mangum

from shared.conversations import service
from shared.conversations.models import ConversationList, ConversationStatus
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT

app = create_app("list-conversations")


@app.get(
    "/organizations/{organization_id}/conversations",
    response_model=ConversationList,
    responses=problems(401, 404, 422),
    tags=["conversations"],
)
async def list_conversations(
    organization_id: uuid.UUID,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    status: ConversationStatus | None = None,
    agent_id: uuid.UUID | None = None,
) -> ConversationList:
    """A page of conversations, optionally only one status or one agent's; follow ``next_cursor``."""
    return await service.list_conversations(
        user, organization_id, limit=limit, cursor=cursor, status=status, agent_id=agent_id
    )


handler = Mangum(app, lifespan="off")
