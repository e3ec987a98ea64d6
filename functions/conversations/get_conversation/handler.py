"""GET /conversations/{conversation_id}: one conversation with a page of its messages."""

import uuid
from typing import Annotated

from fastapi import Query
from mangum import Mangum

from shared.conversations import service
from shared.conversations.models import ConversationDetail
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT

app = create_app("get-conversation")


@app.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    responses=problems(401, 404, 422),
    tags=["conversations"],
)
async def get_conversation(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    messages_limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    messages_cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ConversationDetail:
    """The conversation and its messages oldest first; follow ``messages.next_cursor`` for more."""
    return await service.get_conversation(
        user, conversation_id, messages_limit=messages_limit, messages_cursor=messages_cursor
    )


handler = Mangum(app, lifespan="off")
