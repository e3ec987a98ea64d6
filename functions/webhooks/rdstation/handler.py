"""POST /webhooks/rdstation/{integration_id}: RD Station's contact webhooks; customers become conversions.

Public route with no user JWT: the integration's webhook token (``?token=`` or ``X-Webhook-Token``)
is compared in constant time before the payload is read, then it is handled on the service path.
"""

import uuid
from typing import Annotated

from fastapi import Header, Query, Request
from mangum import Mangum

from shared.crm.inbound import rdstation
from shared.crm.inbound.common import Receipt
from shared.http import create_app
from shared.http.openapi import problems

app = create_app("rdstation-webhook")


@app.post(
    "/webhooks/rdstation/{integration_id}",
    response_model=Receipt,
    responses=problems(400, 401, 404, 422),
    tags=["webhooks"],
)
async def rdstation_webhook(
    integration_id: uuid.UUID,
    request: Request,
    token: Annotated[str | None, Query(max_length=4096)] = None,
    x_webhook_token: Annotated[str | None, Header()] = None,
) -> Receipt:
    """Needs the integration's webhook token, as RD Station's webhook URL carries it."""
    return await rdstation.receive(integration_id, token or x_webhook_token, await request.body())


handler = Mangum(app, lifespan="off")
