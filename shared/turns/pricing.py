"""Per-token prices of each model alias, for budget reservations (workers only: imports litellm)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def alias_pricing() -> dict[str, dict[str, float]]:
    """``{alias: {"in": usd_per_token, "out": usd_per_token}}``, the dearest deployment of each alias.

    A reservation must cover the worst case, so an alias served by several deployments
    (or falling back to another) is priced at its most expensive one.
    """
    from shared.llm.prices import deployment_price
    from shared.llm.router import get_router

    router = get_router()
    groups: dict[str, list[dict[str, Any]]] = {}
    for deployment in router.model_list:
        groups.setdefault(str(deployment["model_name"]), []).append(deployment)
    pricing: dict[str, dict[str, float]] = {}
    for alias, deployments in groups.items():
        prices = [deployment_price(d) for d in deployments]
        pricing[alias] = {"in": max(p[0] for p in prices), "out": max(p[1] for p in prices)}
    for alias, fallbacks in _fallbacks(router).items():
        for fallback in fallbacks:
            if alias in pricing and fallback in pricing:
                pricing[alias] = {k: max(pricing[alias][k], pricing[fallback][k]) for k in ("in", "out")}
    return pricing


def _fallbacks(router: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entry in getattr(router, "fallbacks", None) or []:
        if isinstance(entry, dict):
            for alias, targets in entry.items():
                found.setdefault(str(alias), []).extend(str(t) for t in targets)
    return found
