"""PATCH /integrations/{integration_id}: change an integration; config is merged, credentials replaced."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.integrations import service
from shared.integrations.models import Integration, UpdateIntegration

app = create_app("update-integration")


@app.patch(
    "/integrations/{integration_id}",
    response_model=Integration,
    responses=problems(400, 401, 403, 404, 409, 422),
    tags=["integrations"],
)
async def update_integration(integration_id: uuid.UUID, body: UpdateIntegration, user: CurrentUser) -> Integration:
    """Owners and admins change an integration; fields not sent keep their value."""
    return await service.update_integration(user, integration_id, body)


handler = Mangum(app, lifespan="off")
