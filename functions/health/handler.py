"""GET /health: is this deployment able to reach its database and Redis?"""

from fastapi.responses import JSONResponse
from mangum import Mangum

from shared.health import Health, check_health
from shared.http import create_app

app = create_app("health")


@app.get("/health", response_model=Health, responses={503: {"model": Health}}, tags=["ops"])
async def health() -> JSONResponse:
    """Answer 200 when every dependency is reachable, else 503 with the failing checks."""
    result = await check_health()
    return JSONResponse(result.model_dump(), status_code=200 if result.status == "ok" else 503)


handler = Mangum(app, lifespan="off")
