"""POST /conversations/{conversation_id}/release: hand a conversation a human has back to the bot."""

import uuid

from mangum import Mangum

from shared.conversations import transitions
from shared.conversations.models import Conversation
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader

app = create_app("return-to-bot")


@app.post(
    "/conversations/{conversation_id}/release",
    response_model=Conversation,
    responses=problems(401, 403, 404, 409, 422, 429),
    tags=["conversations"],
)
async def return_to_bot(
    conversation_id: uuid.UUID, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> Conversation:
    """Hand the conversation back to the bot, which answers anything the lead said since."""
    return await transitions.apply(user, conversation_id, transitions.RELEASE, idempotency_key)


handler = Mangum(app, lifespan="off")
