"""POST /conversations/{conversation_id}/replies: a message from the human who took the conversation over."""

import uuid

from mangum import Mangum

from shared.conversations import transitions
from shared.conversations.models import HumanReply, Message
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader

app = create_app("human-reply")


@app.post(
    "/conversations/{conversation_id}/replies",
    status_code=201,
    response_model=Message,
    responses=problems(400, 401, 403, 404, 409, 422, 429),
    tags=["conversations"],
)
async def human_reply(
    conversation_id: uuid.UUID, body: HumanReply, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> Message:
    """Reply as the caller; only while a human has the conversation."""
    return await transitions.human_reply(user, conversation_id, body, idempotency_key)


handler = Mangum(app, lifespan="off")
