"""POST /conversations/{conversation_id}/takeover: a human takes the conversation over from the bot."""

import uuid

from mangum import Mangum

from shared.conversations import transitions
from shared.conversations.models import Conversation
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader

app = create_app("take-over-conversation")


@app.post(
    "/conversations/{conversation_id}/takeover",
    response_model=Conversation,
    responses=problems(401, 403, 404, 409, 422, 429),
    tags=["conversations"],
)
async def take_over(
    conversation_id: uuid.UUID, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> Conversation:
    """Take the conversation over from the bot; the caller is assigned and answers from now on."""
    return await transitions.apply(user, conversation_id, transitions.TAKE_OVER, idempotency_key)


handler = Mangum(app, lifespan="off")
