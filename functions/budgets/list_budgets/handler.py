"""GET /organizations/{organization_id}/budgets: limits, the period's spend (the ledger) and open reservations."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.spend import service
from shared.spend.models import BudgetList

app = create_app("list-budgets")


@app.get(
    "/organizations/{organization_id}/budgets",
    response_model=BudgetList,
    responses=problems(401, 404, 422),
    tags=["budgets"],
)
async def list_budgets(organization_id: uuid.UUID, user: CurrentUser) -> BudgetList:
    """The organization's budget and its agents' budgets; any member."""
    return await service.list_budgets(user, organization_id)


handler = Mangum(app, lifespan="off")
