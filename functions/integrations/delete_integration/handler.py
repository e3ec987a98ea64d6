"""DELETE /integrations/{integration_id}: disconnect an integration; its credentials leave the vault."""

import uuid

from fastapi import Response
from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.integrations import service

app = create_app("delete-integration")


@app.delete(
    "/integrations/{integration_id}",
    status_code=204,
    response_class=Response,
    responses=problems(401, 403, 404),
    tags=["integrations"],
)
async def delete_integration(integration_id: uuid.UUID, user: CurrentUser) -> Response:
    """Owners and admins delete; its CRM links go with it, deliveries already queued are skipped."""
    await service.delete_integration(user, integration_id)
    return Response(status_code=204)


handler = Mangum(app, lifespan="off")
