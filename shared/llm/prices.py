"""Per-token prices of a Router deployment: its explicit price, else LiteLLM's bundled cost map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.llm.sdk import litellm

# An unpriced model is charged (and reserved) at a conservative default rather than for free.
DEFAULT_PRICE = (1e-5, 3e-5)


def deployment_price(deployment: Mapping[str, Any]) -> tuple[float, float]:
    """``(usd per input token, usd per output token)`` for one ``model_list`` entry."""
    info = deployment.get("model_info") or {}
    params = deployment.get("litellm_params") or {}
    model = str(params.get("model", ""))
    entry = litellm.model_cost.get(model) or litellm.model_cost.get(model.split("/", 1)[-1]) or {}
    prices = []
    for key, default in zip(("input_cost_per_token", "output_cost_per_token"), DEFAULT_PRICE, strict=True):
        value = params.get(key, info.get(key, entry.get(key)))
        prices.append(float(value) if value is not None else default)
    return prices[0], prices[1]
