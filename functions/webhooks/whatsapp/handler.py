"""GET and POST /webhooks/whatsapp: Meta's verification handshake, then signed deliveries.

Public on purpose: the GET proves the verify token, every POST its ``X-Hub-Signature-256`` over
the raw body. A delivery is stored and its turns queued before answering; the model runs later,
in the turn worker. Unknown numbers are acknowledged too, since Meta retries non-2xx for days.
"""

from typing import Annotated

from fastapi import Header, Query, Request
from fastapi.responses import PlainTextResponse
from mangum import Mangum

from shared.http import create_app
from shared.http.openapi import problems
from shared.whatsapp import inbound, signature

app = create_app("whatsapp-webhook")
MAX_CHALLENGE = 256


@app.get(
    "/webhooks/whatsapp",
    response_class=PlainTextResponse,
    responses=problems(403, 422, 503),
    tags=["webhooks"],
)
async def verify_webhook(
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=32)] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=256)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=MAX_CHALLENGE)] = None,
) -> PlainTextResponse:
    """Echo ``hub.challenge`` when ``hub.verify_token`` is ours; 403 otherwise."""
    return PlainTextResponse(signature.verify_subscription(mode, verify_token, challenge))


@app.post(
    "/webhooks/whatsapp",
    response_model=inbound.WebhookAck,
    responses=problems(400, 401, 503),
    tags=["webhooks"],
)
async def receive_webhook(
    request: Request, x_hub_signature_256: Annotated[str | None, Header()] = None
) -> inbound.WebhookAck:
    """Verify the signature on the raw bytes, then store and enqueue; 401 stores nothing."""
    body = await request.body()
    signature.verify_delivery(body, x_hub_signature_256)
    return await inbound.receive(body)


handler = Mangum(app, lifespan="off")
