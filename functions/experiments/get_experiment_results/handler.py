"""GET /experiments/{experiment_id}/results: per variant samples, metrics with 95% intervals, SRM check."""

import uuid

from mangum import Mangum

from shared.experiments import service
from shared.experiments.models import ExperimentResults
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("get-experiment-results")


@app.get(
    "/experiments/{experiment_id}/results",
    response_model=ExperimentResults,
    responses=problems(401, 404, 422),
    tags=["experiments"],
)
async def get_experiment_results(experiment_id: uuid.UUID, user: CurrentUser) -> ExperimentResults:
    """Results from the analytics rollup (refreshed every minute); members of the organization."""
    return await service.experiment_results(user, experiment_id)


handler = Mangum(app, lifespan="off")
