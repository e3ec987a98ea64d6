"""Read the route table (and queue/schedule triggers) from serverless.yml, the only place it is written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVERLESS_YML = Path(__file__).resolve().parents[2] / "serverless.yml"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}")


@dataclass(frozen=True)
class Route:
    """One ``httpApi`` event of one function."""

    function: str
    handler: str
    method: str
    path: str
    authorizer: str | None
    pattern: re.Pattern[str] = field(compare=False, repr=False)

    @property
    def route_key(self) -> str:
        """API Gateway's ``routeKey``, e.g. ``POST /organizations``."""
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves ``method path``, else None."""
        if self.method not in ("*", "ANY", method):
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class FunctionSpec:
    """A function declared in serverless.yml."""

    name: str
    handler: str
    events: list[dict[str, Any]]

    @property
    def module(self) -> str:
        """``functions/health/handler.handler`` → ``functions.health.handler``."""
        return self.handler.rsplit(".", 1)[0].replace("/", ".")

    @property
    def attribute(self) -> str:
        """The callable inside the module (``handler``)."""
        return self.handler.rsplit(".", 1)[1]


def load_serverless(path: Path = SERVERLESS_YML) -> dict[str, Any]:
    """The parsed serverless.yml (variables are left unresolved)."""
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def functions(config: dict[str, Any] | None = None) -> list[FunctionSpec]:
    """Every function with its handler path and events."""
    config = config or load_serverless()
    return [
        FunctionSpec(name=name, handler=spec["handler"], events=list(spec.get("events") or []))
        for name, spec in (config.get("functions") or {}).items()
    ]


def routes(config: dict[str, Any] | None = None) -> list[Route]:
    """Every HTTP route, most specific first (static segments beat parameters)."""
    found: list[Route] = []
    for fn in functions(config):
        for event in fn.events:
            http = event.get("httpApi")
            if not isinstance(http, dict):
                continue
            method = str(http.get("method", "*")).upper()
            path = str(http["path"])
            authorizer = (http.get("authorizer") or {}).get("name")
            found.append(Route(fn.name, fn.handler, method, path, authorizer, _compile(path)))
    return sorted(found, key=lambda r: (r.path.count("{"), -len(r.path)))


def _compile(path: str) -> re.Pattern[str]:
    regex = ""
    position = 0
    for param in _PARAM.finditer(path):
        regex += re.escape(path[position : param.start()])
        greedy = param.group(0).endswith("+}")
        regex += f"(?P<{param.group(1)}>{'.+' if greedy else '[^/]+'})"
        position = param.end()
    return re.compile(regex + re.escape(path[position:]))
