"""POST /webhook-endpoints/{endpoint_id}/rotate-secret: a new signing secret, shown once."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.webhooks import service
from shared.webhooks.models import RotateWebhookSecret, WebhookEndpointWithSecret

app = create_app("rotate-webhook-secret")


@app.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpointWithSecret,
    responses=problems(400, 401, 403, 404, 422),
    tags=["webhooks"],
)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID, user: CurrentUser, body: RotateWebhookSecret | None = None
) -> WebhookEndpointWithSecret:
    """Owners and admins rotate; deliveries carry both signatures until the grace period ends."""
    return await service.rotate_secret(user, endpoint_id, body or RotateWebhookSecret())


handler = Mangum(app, lifespan="off")
