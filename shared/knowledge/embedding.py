"""Embeddings through LiteLLM (``aembedding``), in batches, with their cost: model workers only.

An organization picks an embedding alias of ``infra/litellm/config.yaml`` in its settings
(``knowledge_embedding_model``, default ``embed``); the alias's ``model_info.dimension`` says the
vector size, which must be one of ``SUPPORTED_DIMENSIONS`` (one partial HNSW index each).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.errors import InvalidInput, UpstreamUnavailable

DEFAULT_ALIAS = "embed"
SUPPORTED_DIMENSIONS = (384, 768, 1536)
BATCH_SIZE = 64


@dataclass(frozen=True)
class EmbeddingModel:
    """An embedding alias and the size of its vectors."""

    alias: str
    dimension: int
    price_per_token: float = 0.0


@dataclass(frozen=True)
class Embedded:
    """Vectors for a list of texts, in order, and what producing them cost."""

    vectors: list[list[float]]
    model: str
    tokens: int
    cost_usd: float
    latency_ms: int


@lru_cache(maxsize=1)
def _aliases() -> dict[str, EmbeddingModel]:
    from shared.llm.router import load_config
    from shared.settings import get_settings

    configured = get_settings().litellm_config_path
    found: dict[str, EmbeddingModel] = {}
    for entry in load_config(Path(configured) if configured else None)["model_list"]:
        info, params = entry.get("model_info") or {}, entry.get("litellm_params") or {}
        if info.get("mode") == "embedding" and isinstance(info.get("dimension"), int):
            name = str(entry["model_name"])
            price = float(params.get("input_cost_per_token") or 0.0)
            found[name] = EmbeddingModel(name, int(info["dimension"]), price)
    return found


def model_for(alias: str | None) -> EmbeddingModel:
    """The configured embedding model named ``alias`` (default ``embed``)."""
    name = alias or DEFAULT_ALIAS
    model = _aliases().get(name)
    if model is None:
        raise InvalidInput.for_field("knowledge_embedding_model", f"{name!r} is not an embedding model")
    if model.dimension not in SUPPORTED_DIMENSIONS:
        raise InvalidInput.for_field("knowledge_embedding_model", f"dimension {model.dimension} is not supported")
    return model


def literal(vector: list[float]) -> str:
    """pgvector's text form of ``vector``."""
    return "[" + ",".join(f"{v:.6g}" for v in vector) + "]"


async def embed(model: EmbeddingModel, texts: list[str], batch_size: int = BATCH_SIZE) -> Embedded:
    """Embed ``texts`` in batches through the Router; ``UpstreamUnavailable`` when the provider fails."""
    import time

    from shared.llm.router import get_router

    started = time.perf_counter()
    vectors: list[list[float]] = []
    tokens, cost, served_by = 0, 0.0, model.alias
    for start in range(0, len(texts), batch_size):
        try:
            response: Any = await get_router().aembedding(model=model.alias, input=texts[start : start + batch_size])
        except Exception as exc:  # litellm raises provider-specific errors; all mean "not now"
            raise UpstreamUnavailable(f"embedding model {model.alias} failed: {type(exc).__name__}") from exc
        batch = [list(item["embedding"]) for item in sorted(response.data, key=lambda item: item["index"])]
        if any(len(vector) != model.dimension for vector in batch):
            raise UpstreamUnavailable(f"embedding model {model.alias} returned vectors of the wrong size")
        vectors.extend(batch)
        tokens += int(getattr(response.usage, "prompt_tokens", 0) or 0)
        cost += float(response._hidden_params.get("response_cost") or 0.0)
        served_by = str(response.model or served_by)
    return Embedded(vectors, served_by, tokens, cost, int((time.perf_counter() - started) * 1000))
