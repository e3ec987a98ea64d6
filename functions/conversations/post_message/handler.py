"""POST /conversations/{conversation_id}/messages: a lead message posted through the API."""

import uuid

from mangum import Mangum

from shared.conversations import messages
from shared.conversations.models import MessageAccepted, PostMessage
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader

app = create_app("post-message")


@app.post(
    "/conversations/{conversation_id}/messages",
    status_code=202,
    response_model=MessageAccepted,
    responses=problems(400, 401, 403, 404, 409, 422, 429),
    tags=["conversations"],
)
async def post_message(
    conversation_id: uuid.UUID, body: PostMessage, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> MessageAccepted:
    """Store the message, queue the agent's turn and answer at once; the reply arrives later."""
    return await messages.post_message(user, conversation_id, body, idempotency_key)


handler = Mangum(app, lifespan="off")
