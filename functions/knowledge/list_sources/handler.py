"""GET /organizations/{organization_id}/knowledge/sources: the organization's knowledge sources."""

import uuid
from typing import Annotated

from fastapi import Query
from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.knowledge import service
from shared.knowledge.models import SourceList

app = create_app("list-knowledge-sources")


@app.get(
    "/organizations/{organization_id}/knowledge/sources",
    response_model=SourceList,
    responses=problems(401, 422),
    tags=["knowledge"],
)
async def list_sources(
    organization_id: uuid.UUID,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> SourceList:
    """Every member lists the sources, newest first, with their index status."""
    return await service.list_sources(user, organization_id, limit, cursor)


handler = Mangum(app, lifespan="off")
