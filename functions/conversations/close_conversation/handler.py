"""POST /conversations/{conversation_id}/close: close a conversation."""

import uuid

from mangum import Mangum

from shared.conversations import transitions
from shared.conversations.models import Conversation
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader

app = create_app("close-conversation")


@app.post(
    "/conversations/{conversation_id}/close",
    response_model=Conversation,
    responses=problems(401, 403, 404, 409, 422, 429),
    tags=["conversations"],
)
async def close_conversation(
    conversation_id: uuid.UUID, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> Conversation:
    """Close the conversation; it takes no more messages."""
    return await transitions.apply(user, conversation_id, transitions.CLOSE, idempotency_key)


handler = Mangum(app, lifespan="off")
