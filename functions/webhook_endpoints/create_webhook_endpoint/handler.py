"""POST /organizations/{organization_id}/webhook-endpoints: register an endpoint; its secret is shown once."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader
from shared.webhooks import service
from shared.webhooks.models import CreateWebhookEndpoint, WebhookEndpointWithSecret

app = create_app("create-webhook-endpoint")


@app.post(
    "/organizations/{organization_id}/webhook-endpoints",
    status_code=201,
    response_model=WebhookEndpointWithSecret,
    responses=problems(400, 401, 403, 404, 409, 422),
    tags=["webhooks"],
)
async def create_webhook_endpoint(
    organization_id: uuid.UUID, body: CreateWebhookEndpoint, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> WebhookEndpointWithSecret:
    """Owners and admins register an endpoint; store ``secret`` now, it is never returned again.

    Retried with the same ``Idempotency-Key``, it answers with the same endpoint and a new secret (the first one,
    never seen, stops signing).
    """
    return await service.create_endpoint(user, organization_id, body, idempotency_key)


handler = Mangum(app, lifespan="off")
