"""PATCH /webhook-endpoints/{endpoint_id}: change an endpoint's url, events, description or enabled."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.webhooks import service
from shared.webhooks.models import UpdateWebhookEndpoint, WebhookEndpoint

app = create_app("update-webhook-endpoint")


@app.patch(
    "/webhook-endpoints/{endpoint_id}",
    response_model=WebhookEndpoint,
    responses=problems(400, 401, 403, 404, 422),
    tags=["webhooks"],
)
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID, body: UpdateWebhookEndpoint, user: CurrentUser
) -> WebhookEndpoint:
    """Owners and admins change an endpoint; fields not sent keep their value."""
    return await service.update_endpoint(user, endpoint_id, body)


handler = Mangum(app, lifespan="off")
