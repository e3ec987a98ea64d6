"""GET /agents/{agent_id}/experiments: the agent's experiments, newest first."""

import uuid

from mangum import Mangum

from shared.experiments import service
from shared.experiments.models import ExperimentList
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("list-experiments")


@app.get(
    "/agents/{agent_id}/experiments",
    response_model=ExperimentList,
    responses=problems(401, 404, 422),
    tags=["experiments"],
)
async def list_experiments(agent_id: uuid.UUID, user: CurrentUser) -> ExperimentList:
    """Running and stopped experiments with their variants; members of the agent's organization."""
    return await service.list_experiments(user, agent_id)


handler = Mangum(app, lifespan="off")
