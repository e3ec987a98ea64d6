"""GET /widget/conversations/{conversation_id}: the visitor's messages, for a widget that polls."""

import uuid
from typing import Annotated

from fastapi import Depends, Query
from mangum import Mangum

from shared import ratelimit
from shared.conversations import widget
from shared.conversations.widget_auth import VisitorToken
from shared.conversations.widget_models import WidgetConversation
from shared.http import create_app
from shared.http.openapi import problems
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT

app = create_app("get-widget-conversation")


@app.get(
    "/widget/conversations/{conversation_id}",
    response_model=WidgetConversation,
    responses=problems(401, 422, 429),
    tags=["widget"],
    # The read changes nothing, so the per-IP count runs alongside it (a refusal still answers 429).
    dependencies=[Depends(ratelimit.limit_by_ip_alongside, scope="function")],
)
async def get_widget_conversation(
    conversation_id: uuid.UUID,
    token: VisitorToken,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> WidgetConversation:
    """Messages after ``cursor``, oldest first; poll again with ``poll_cursor``."""
    return await widget.get_conversation(conversation_id, token, limit=limit, cursor=cursor)


handler = Mangum(app, lifespan="off")
