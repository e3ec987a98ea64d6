"""Everything that runs the functions locally: moto's queues, the gateway, queue pollers and the scheduler.

All three drive the same handlers, each in its own warm "container", with the event
shapes AWS uses (API Gateway HTTP API v2, SQS, EventBridge Scheduler).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette


@contextlib.contextmanager
def local_functions(config: dict[str, Any] | None = None) -> Iterator[Starlette]:
    """Start moto with serverless.yml's queues, then yield the gateway with pollers and scheduler running."""
    from local_runtime.aws import referenced_environment, start_aws
    from local_runtime.containers import Containers
    from local_runtime.gateway.app import create_gateway
    from local_runtime.gateway.routes import functions, load_serverless
    from local_runtime.queues import start_pollers
    from local_runtime.scheduler import Scheduler, schedules

    config = config or load_serverless()
    with contextlib.ExitStack() as stack:
        aws = start_aws(config)
        stack.callback(aws.stop)
        os.environ.update(aws.environment())
        os.environ.update(referenced_environment(config, aws.queues))
        containers = Containers(functions(config))
        gateway = create_gateway(config, containers)
        for poller in start_pollers(config, aws, containers):
            stack.callback(poller.stop)
        scheduler = Scheduler(schedules(config), lambda name, event: containers.get(name).invoke_sync(event)).start()
        stack.callback(scheduler.stop)
        yield gateway
