"""POST /experiments/{experiment_id}/stop: stop an experiment and optionally promote the winning version."""

import uuid

from mangum import Mangum

from shared.experiments import service
from shared.experiments.models import Experiment, StopExperiment
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("stop-experiment")


@app.post(
    "/experiments/{experiment_id}/stop",
    response_model=Experiment,
    responses=problems(400, 401, 403, 404, 409, 422),
    tags=["experiments"],
)
async def stop_experiment(experiment_id: uuid.UUID, body: StopExperiment, user: CurrentUser) -> Experiment:
    """New conversations stop being assigned; ``promote_version`` becomes the agent's configuration."""
    return await service.stop_experiment(user, experiment_id, body)


handler = Mangum(app, lifespan="off")
