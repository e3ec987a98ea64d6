"""GET /knowledge/sources/{source_id}: one knowledge source and the state of its index."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.knowledge import service
from shared.knowledge.models import Source

app = create_app("get-knowledge-source")


@app.get("/knowledge/sources/{source_id}", response_model=Source, responses=problems(401, 404), tags=["knowledge"])
async def get_source(source_id: uuid.UUID, user: CurrentUser) -> Source:
    """Every member reads a source: status, problem, version, content hash, chunk count."""
    return await service.get_source(user, source_id)


handler = Mangum(app, lifespan="off")
