"""The container's LiteLLM Router, built from ``infra/litellm/config.yaml``.

Only model workers call this: ``import litellm`` costs ~2.5 s of cold start, so
nothing imports it at module level and ``import shared`` never pulls it in.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from litellm.router import Router

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "infra" / "litellm" / "config.yaml"
# The deterministic local model, a LiteLLM custom provider that lives outside the layer (dev and tests only).
LOCAL_MODEL = "local_runtime.model.local_model"


def load_config(path: Path | None = None) -> dict[str, Any]:
    """Read a LiteLLM proxy-format config (``model_list``, ``router_settings``)."""
    config_path = path or DEFAULT_CONFIG
    with config_path.open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle) or {}
    if not isinstance(loaded, dict) or not isinstance(loaded.get("model_list"), list):
        raise ValueError(f"{config_path}: expected a mapping with a model_list")
    return loaded


def build_router(config: dict[str, Any], custom_provider: str | None = None) -> Router:
    """A Router for ``config``, after ``custom_provider``'s ``register()`` (a module path) when one is named."""
    from shared.llm.direct import DirectFirstRouter
    from shared.llm.sdk import quiet_schema_warnings

    if custom_provider:
        importlib.import_module(custom_provider).register()
    with quiet_schema_warnings():  # the Router builds litellm's deployment models here
        router = DirectFirstRouter(model_list=config["model_list"], **config.get("router_settings", {}))
    _prices_registered_once(router)
    return router


# litellm.completion re-registers a price it finds in the call's params on every call, which drops
# litellm's cost-map lookup caches: ~1.3 ms a call on the worker's path. The Router registered each
# deployment's price under its model_info.id when it was built, and costs are computed from there.
_PRICE_PARAMS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
)


def _prices_registered_once(router: Router) -> None:
    """Move each deployment's prices from its call params to its model_info (``deployment_price`` reads both)."""
    for deployment in router.model_list:
        params, info = deployment["litellm_params"], deployment.setdefault("model_info", {})
        for key in _PRICE_PARAMS:
            if key in params:
                info[key] = params.pop(key)


@lru_cache(maxsize=1)
def get_router() -> Router:
    """Build the Router once per container, from ``LITELLM_CONFIG_PATH`` or the bundled config."""
    from shared.settings import get_settings

    settings = get_settings()
    configured = settings.litellm_config_path
    return build_router(load_config(Path(configured) if configured else None), settings.litellm_custom_provider)


async def close_llm() -> None:
    """Stop litellm's background logging task on this loop (container shutdown, tests); no-op if never loaded."""
    if "litellm" not in sys.modules:
        return
    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

    # We record usage ourselves (app.finish_turn); litellm's queued success callbacks can be dropped.
    # The worker is process-wide and bound to one loop: only that loop may stop it.
    if getattr(GLOBAL_LOGGING_WORKER, "_bound_loop", None) in (None, asyncio.get_running_loop()):
        await GLOBAL_LOGGING_WORKER.stop()
