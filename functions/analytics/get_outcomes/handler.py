"""GET /organizations/{organization_id}/analytics/outcomes: conversions, handoffs, opt-outs, lost."""

from mangum import Mangum

from shared.analytics.models import Report
from shared.analytics.params import ReportQuery
from shared.analytics.service import run_report
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("get-outcomes")


@app.get(
    "/organizations/{organization_id}/analytics/outcomes",
    response_model=Report,
    responses=problems(401, 404, 422),
    tags=["analytics"],
)
async def get_outcomes(filters: ReportQuery, user: CurrentUser) -> Report:
    """Totals and groups over conversations started in [from, to); members of the organization."""
    return await run_report(user, "outcomes", filters)


handler = Mangum(app, lifespan="off")
