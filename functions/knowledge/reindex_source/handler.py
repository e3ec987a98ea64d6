"""POST /knowledge/sources/{source_id}/reindex: index a source again (e.g. a web page that changed)."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.knowledge import service
from shared.knowledge.models import Source

app = create_app("reindex-knowledge-source")


@app.post(
    "/knowledge/sources/{source_id}/reindex",
    status_code=202,
    response_model=Source,
    responses=problems(401, 403, 404),
    tags=["knowledge"],
)
async def reindex_source(source_id: uuid.UUID, user: CurrentUser) -> Source:
    """Editors queue a source for indexing; content that did not change keeps its version."""
    return await service.reindex_source(user, source_id)


handler = Mangum(app, lifespan="off")
