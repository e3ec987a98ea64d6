"""POST /widget/conversations: the public web widget starts a conversation (no JWT)."""

from fastapi import Depends
from mangum import Mangum

from shared import ratelimit
from shared.conversations import widget
from shared.conversations.widget_auth import Client
from shared.conversations.widget_models import StartWidgetConversation, WidgetConversationStarted
from shared.http import create_app
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader

app = create_app("start-widget-conversation")


@app.post(
    "/widget/conversations",
    status_code=201,
    response_model=WidgetConversationStarted,
    responses=problems(400, 401, 403, 409, 422, 429),
    tags=["widget"],
    dependencies=[Depends(ratelimit.limit_by_ip)],
)
async def start_widget_conversation(
    body: StartWidgetConversation, client: Client, idempotency_key: IdempotencyKeyHeader
) -> WidgetConversationStarted:
    """Needs ``X-Publishable-Key`` and an allowed ``Origin``; returns the visitor token, once."""
    return await widget.start_conversation(client, body, idempotency_key)


handler = Mangum(app, lifespan="off")
