"""POST /webhooks/hubspot: HubSpot's deal-stage webhooks; a won deal becomes a conversion here.

Public route with no user JWT: the request is authenticated by HubSpot's v3 signature (client
secret, raw bytes, five-minute window) before anything is read, then handled on the service path.
"""

from fastapi import Request
from mangum import Mangum

from shared.crm.inbound import hubspot
from shared.crm.inbound.common import Receipt
from shared.http import create_app
from shared.http.openapi import problems

app = create_app("hubspot-webhook")


@app.post("/webhooks/hubspot", response_model=Receipt, responses=problems(400, 401, 404, 503), tags=["webhooks"])
async def hubspot_webhook(request: Request) -> Receipt:
    """Verifies ``X-HubSpot-Signature-v3`` over the URL HubSpot called, then records won and lost deals."""
    scheme = request.headers.get("x-forwarded-proto", "https")
    query = f"?{request.url.query}" if request.url.query else ""
    signed = hubspot.SignedRequest(
        method=request.method,
        uri=f"{scheme}://{request.headers.get('host', '')}{request.url.path}{query}",
        body=await request.body(),
        signature=request.headers.get(hubspot.SIGNATURE_HEADER),
        timestamp=request.headers.get(hubspot.TIMESTAMP_HEADER),
    )
    return await hubspot.receive(signed)


handler = Mangum(app, lifespan="off")
