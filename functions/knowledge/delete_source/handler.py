"""DELETE /knowledge/sources/{source_id}: remove a knowledge source and its chunks."""

import uuid

from fastapi import Response
from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.knowledge import service

app = create_app("delete-knowledge-source")


@app.delete(
    "/knowledge/sources/{source_id}",
    status_code=204,
    response_class=Response,
    responses=problems(401, 403, 404),
    tags=["knowledge"],
)
async def delete_source(source_id: uuid.UUID, user: CurrentUser) -> Response:
    """Editors delete a source; its chunks go with it in the same transaction."""
    await service.delete_source(user, source_id)
    return Response(status_code=204)


handler = Mangum(app, lifespan="off")
