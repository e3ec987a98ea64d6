"""PUT /organizations/{organization_id}/budgets: set the organization's or an agent's budget (admins)."""

import uuid

from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems
from shared.spend import service
from shared.spend.models import Budget, SetBudget

app = create_app("set-budget")


@app.put(
    "/organizations/{organization_id}/budgets",
    response_model=Budget,
    responses=problems(400, 401, 403, 404, 422),
    tags=["budgets"],
)
async def set_budget(organization_id: uuid.UUID, body: SetBudget, user: CurrentUser) -> Budget:
    """Replace the limits (``agent_id`` null: the organization's); spend and reservations are kept, audited."""
    return await service.set_budget(user, organization_id, body)


handler = Mangum(app, lifespan="off")
