"""GET /organizations/{organization_id}/usage: LLM calls, tokens and cost by model and alias over a range."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query
from mangum import Mangum

from shared.analytics.params import parse_range
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.spend import service
from shared.spend.models import Usage, UsageFilters

app = create_app("get-usage")


@app.get(
    "/organizations/{organization_id}/usage",
    response_model=Usage,
    responses=problems(401, 404, 422),
    tags=["budgets"],
)
async def get_usage(
    organization_id: uuid.UUID,
    user: CurrentUser,
    start: Annotated[datetime | None, Query(alias="from", description="inclusive; default 30 days before to")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="exclusive; default now")] = None,
    agent_id: uuid.UUID | None = None,
) -> Usage:
    """The ledger's sums for calls made in [from, to); any member."""
    start, end = parse_range(start, end)
    filters = UsageFilters(organization_id=organization_id, from_=start, to=end, agent_id=agent_id)
    return await service.usage(user, filters)


handler = Mangum(app, lifespan="off")
