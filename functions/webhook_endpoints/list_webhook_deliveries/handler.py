"""GET /webhook-endpoints/{endpoint_id}/deliveries: the endpoint's delivery log, a page at a time."""

import uuid
from typing import Annotated

from fastapi import Query
from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.webhooks import service
from shared.webhooks.models import WebhookDeliveryList

app = create_app("list-webhook-deliveries")


@app.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=WebhookDeliveryList,
    responses=problems(401, 404, 422),
    tags=["webhooks"],
)
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> WebhookDeliveryList:
    """Every member reads the attempts, newest first: status, response excerpt, next attempt."""
    return await service.list_deliveries(user, endpoint_id, limit, cursor)


handler = Mangum(app, lifespan="off")
