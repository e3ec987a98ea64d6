"""POST /widget/conversations/{conversation_id}/messages: the visitor writes (visitor token, no JWT)."""

import uuid

from fastapi import Depends
from mangum import Mangum

from shared import ratelimit
from shared.conversations import widget
from shared.conversations.models import MessageAccepted, PostMessage
from shared.conversations.widget_auth import VisitorToken
from shared.http import create_app
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader

app = create_app("post-widget-message")


@app.post(
    "/widget/conversations/{conversation_id}/messages",
    status_code=202,
    response_model=MessageAccepted,
    responses=problems(400, 401, 409, 422, 429),
    tags=["widget"],
    dependencies=[Depends(ratelimit.limit_by_ip)],
)
async def post_widget_message(
    conversation_id: uuid.UUID, body: PostMessage, token: VisitorToken, idempotency_key: IdempotencyKeyHeader
) -> MessageAccepted:
    """Store the visitor's message and queue the agent's turn; poll the conversation for the reply."""
    return await widget.post_message(conversation_id, token, body, idempotency_key)


handler = Mangum(app, lifespan="off")
