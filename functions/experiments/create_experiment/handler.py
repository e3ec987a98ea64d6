"""POST /agents/{agent_id}/experiments: start an A/B test between versions of an agent."""

import uuid

from mangum import Mangum

from shared.experiments import service
from shared.experiments.models import CreateExperiment, Experiment
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("create-experiment")


@app.post(
    "/agents/{agent_id}/experiments",
    status_code=201,
    response_model=Experiment,
    responses=problems(400, 401, 403, 404, 409, 422),
    tags=["experiments"],
)
async def create_experiment(agent_id: uuid.UUID, body: CreateExperiment, user: CurrentUser) -> Experiment:
    """Split the agent's new conversations between versions by weight, sticky per lead; editors and above."""
    return await service.create_experiment(user, agent_id, body)


handler = Mangum(app, lifespan="off")
