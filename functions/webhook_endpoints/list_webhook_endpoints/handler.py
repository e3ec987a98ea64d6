"""GET /organizations/{organization_id}/webhook-endpoints: the organization's endpoints, without secrets."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.webhooks import service
from shared.webhooks.models import WebhookEndpointList

app = create_app("list-webhook-endpoints")


@app.get(
    "/organizations/{organization_id}/webhook-endpoints",
    response_model=WebhookEndpointList,
    responses=problems(401, 404, 422),
    tags=["webhooks"],
)
async def list_webhook_endpoints(organization_id: uuid.UUID, user: CurrentUser) -> WebhookEndpointList:
    """Every member lists the endpoints, oldest first."""
    return WebhookEndpointList(data=await service.list_endpoints(user, organization_id))


handler = Mangum(app, lifespan="off")
