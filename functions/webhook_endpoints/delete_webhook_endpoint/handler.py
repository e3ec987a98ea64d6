"""DELETE /webhook-endpoints/{endpoint_id}: remove an endpoint, its delivery log and its secrets."""

import uuid

from fastapi import Response
from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.webhooks import service

app = create_app("delete-webhook-endpoint")


@app.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=204,
    response_class=Response,
    responses=problems(401, 403, 404),
    tags=["webhooks"],
)
async def delete_webhook_endpoint(endpoint_id: uuid.UUID, user: CurrentUser) -> Response:
    """Owners and admins delete; deliveries already queued for it are dropped."""
    await service.delete_endpoint(user, endpoint_id)
    return Response(status_code=204)


handler = Mangum(app, lifespan="off")
