"""POST /webhooks/pipedrive/{integration_id}: Pipedrive's deal webhooks (v1 and v2); won deals become conversions.

Public route with no user JWT: the integration's HTTP basic auth credentials are checked (constant
time) before the payload is read, then it is handled on the service path.
"""

import uuid
from typing import Annotated

from fastapi import Header, Request
from mangum import Mangum

from shared.crm.inbound import pipedrive
from shared.crm.inbound.common import Receipt
from shared.http import create_app
from shared.http.openapi import problems

app = create_app("pipedrive-webhook")


@app.post(
    "/webhooks/pipedrive/{integration_id}",
    response_model=Receipt,
    responses=problems(400, 401, 404, 422),
    tags=["webhooks"],
)
async def pipedrive_webhook(
    integration_id: uuid.UUID, request: Request, authorization: Annotated[str | None, Header()] = None
) -> Receipt:
    """Needs the integration's webhook user and password as ``Authorization: Basic``."""
    return await pipedrive.receive(integration_id, authorization, await request.body())


handler = Mangum(app, lifespan="off")
