"""What each benchmarked function is asked: one representative request per function."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from local_runtime.gateway.routes import functions, routes


@dataclass(frozen=True)
class Case:
    """A function (or floor) and the request used to measure it."""

    name: str
    module: str
    method: str
    path: str
    route_key: str
    body: dict[str, Any] | None = None
    auth: bool = False
    floor: str | None = None  # which floor its warm latency is compared with


FLOOR_COLD = Case("floor: FastAPI+Mangum hello", "bench.floors.hello", "GET", "/hello", "GET /hello")
FLOOR_WARM = Case("floor: FastAPI+Mangum+SELECT", "bench.floors.select_one", "GET", "/select", "GET /select")


def function_cases(organization_id: uuid.UUID) -> list[Case]:
    """One case per HTTP function in serverless.yml."""
    modules = {spec.name: spec.module for spec in functions()}
    bodies: dict[str, dict[str, Any]] = {
        "createOrganization": {"name": "Bench Org"},
        "addMember": {"email": "bench-member@example.com", "role": "viewer"},
    }
    cases = []
    for route in routes():
        path = route.path.replace("{organization_id}", str(organization_id))
        cases.append(
            Case(
                name=route.function,
                module=modules[route.function],
                method=route.method,
                path=path,
                route_key=route.route_key,
                body=bodies.get(route.function),
                auth=route.authorizer is not None,
                floor="select",
            )
        )
    return sorted(cases, key=lambda c: c.name)
