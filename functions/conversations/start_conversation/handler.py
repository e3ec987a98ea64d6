"""POST /organizations/{organization_id}/conversations: start a conversation between an agent and a lead."""

import uuid

from mangum import Mangum

from shared.conversations import service
from shared.conversations.models import Conversation, StartConversation
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader

app = create_app("start-conversation")


@app.post(
    "/organizations/{organization_id}/conversations",
    status_code=201,
    response_model=Conversation,
    responses=problems(400, 401, 403, 404, 409, 422, 429),
    tags=["conversations"],
)
async def start_conversation(
    organization_id: uuid.UUID, body: StartConversation, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> Conversation:
    """Upsert the lead, pin the agent's current version and queue the first message, if any."""
    return await service.start_conversation(user, organization_id, body, idempotency_key)


handler = Mangum(app, lifespan="off")
