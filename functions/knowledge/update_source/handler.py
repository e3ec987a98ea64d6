"""PATCH /knowledge/sources/{source_id}: new title or content; changed content is indexed as a new version."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.knowledge import service
from shared.knowledge.models import Source, UpdateSource

app = create_app("update-knowledge-source")


@app.patch(
    "/knowledge/sources/{source_id}",
    response_model=Source,
    responses=problems(400, 401, 403, 404, 413, 422),
    tags=["knowledge"],
)
async def update_source(source_id: uuid.UUID, body: UpdateSource, user: CurrentUser) -> Source:
    """Editors change a source; the old version's chunks are served until the new version is ready."""
    return await service.update_source(user, source_id, body)


handler = Mangum(app, lifespan="off")
