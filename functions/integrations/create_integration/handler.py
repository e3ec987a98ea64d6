"""POST /organizations/{organization_id}/integrations: connect a WhatsApp number or a CRM (write-only credentials)."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.integrations import service, validation
from shared.integrations.models import CreateIntegration, Integration

app = create_app("create-integration")
validation.install(app)


@app.post(
    "/organizations/{organization_id}/integrations",
    status_code=201,
    response_model=Integration,
    responses=problems(400, 401, 403, 404, 409, 422),
    tags=["integrations"],
)
async def create_integration(organization_id: uuid.UUID, body: CreateIntegration, user: CurrentUser) -> Integration:
    """Owners and admins connect an integration; ``credentials`` are stored encrypted and never returned."""
    return await service.create_integration(user, organization_id, body)


handler = Mangum(app, lifespan="off")
