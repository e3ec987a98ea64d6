"""POST /organizations/{organization_id}/knowledge/sources: add a text, FAQ, web page or file source."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.idempotency import IdempotencyKeyHeader
from shared.knowledge import service
from shared.knowledge.models import CreateSource, Source

app = create_app("create-knowledge-source")


@app.post(
    "/organizations/{organization_id}/knowledge/sources",
    status_code=202,
    response_model=Source,
    responses=problems(400, 401, 403, 404, 409, 413, 415, 422),
    tags=["knowledge"],
)
async def create_source(
    organization_id: uuid.UUID, body: CreateSource, user: CurrentUser, idempotency_key: IdempotencyKeyHeader
) -> Source:
    """Editors add a source; it is ``pending`` until the ingestion worker makes it ``ready`` (or ``failed``).

    A ``file`` source names the file (``file_name``, ``media_type``: PDF, DOCX, TXT, MD or HTML, ``size``
    up to 20 MiB; else 415 or 413) and answers with ``upload``: POST the file there with your own token
    (Supabase Storage, storage RLS), then ``POST /knowledge/sources/{id}/reindex`` indexes it.
    """
    return await service.create_source(user, organization_id, body, idempotency_key)


handler = Mangum(app, lifespan="off")
