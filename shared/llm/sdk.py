"""litellm, imported the one way our code may: with the bundled cost map, never fetched at import."""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Iterator

# litellm reads this at import time; without it every cold start fetches the cost map over the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm import EmbeddingResponse, ModelResponse, Usage
from litellm.llms.custom_llm import CustomLLM
from litellm.router import Router
from litellm.types.router import RouterRateLimitError, RouterRateLimitErrorBasic
from litellm.types.utils import ChatCompletionMessageToolCall, Function


@contextlib.contextmanager
def quiet_schema_warnings() -> Iterator[None]:
    """Silence pydantic's warning about litellm's ``ReadOnly`` TypedDict items while litellm models build.

    Pydantic warns the first time it builds a litellm model that holds one; it is litellm's typing,
    not ours, and pytest runs with warnings as errors.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*`ReadOnly` qualifier", category=UserWarning)
        yield


with quiet_schema_warnings():
    ModelResponse()  # builds Message's deferred schema now, not during the first call


# litellm imports these on the first call with tools (mcp alone is ~0.6 s). Workers import them at
# init instead, so the first turn does not pay; best effort, since the paths are litellm internals.
_LAZY_MODULES = (
    "litellm.responses.mcp.chat_completions_handler",
    "litellm.proxy.openai_files_endpoints.common_utils",
    "litellm.litellm_core_utils.default_encoding",
)


def preload() -> None:
    """Import what litellm would otherwise import during the first call."""
    for name in _LAZY_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


__all__ = [
    "ChatCompletionMessageToolCall",
    "CustomLLM",
    "EmbeddingResponse",
    "Function",
    "ModelResponse",
    "Router",
    "RouterRateLimitError",
    "RouterRateLimitErrorBasic",
    "Usage",
    "litellm",
    "preload",
    "quiet_schema_warnings",
]
