"""infra/litellm/config.yaml: LiteLLM proxy format, priced offline, loaded once per container."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from shared.llm.router import DEFAULT_CONFIG, LOCAL_MODEL, build_router, get_router, load_config
from shared.settings import get_settings
from shared.turns.pricing import alias_pricing

SHIPPED = load_config()


@pytest.fixture
def container_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Valid settings, and the container's cached Router and prices rebuilt before and after the test."""
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "x" * 40)
    caches = (get_settings, get_router, alias_pricing)
    for cache in caches:
        cache.cache_clear()
    yield monkeypatch
    for cache in caches:
        cache.cache_clear()


def test_every_alias_is_a_priced_local_deployment_with_its_own_id() -> None:
    # given the shipped model_list's chat deployments (embedding ones: the next test)
    deployments = [d for d in SHIPPED["model_list"] if d["model_info"].get("mode") != "embedding"]
    # then fast, smart and economy are served by the local model, each explicitly priced
    assert {d["model_name"] for d in deployments} == {"fast", "smart", "economy"}
    for deployment in deployments:
        params = deployment["litellm_params"]
        assert params["model"].startswith("local/")
        assert params["input_cost_per_token"] > 0
        assert params["output_cost_per_token"] > 0
    ids = [d["model_info"]["id"] for d in deployments]
    assert len(set(ids)) == len(ids)


def test_every_embedding_alias_is_priced_with_a_supported_dimension() -> None:
    # given the shipped embedding deployments (the knowledge base's)
    from shared.knowledge.embedding import SUPPORTED_DIMENSIONS

    embeddings = [d for d in SHIPPED["model_list"] if d["model_info"].get("mode") == "embedding"]
    # then there are two sizes, each served locally, priced, and of a size retrieval has an index for
    assert {d["model_name"] for d in embeddings} == {"embed", "embed-large"}
    assert len({d["model_info"]["dimension"] for d in embeddings}) == 2
    for deployment in embeddings:
        assert deployment["litellm_params"]["model"].startswith("local/hashed-")
        assert deployment["litellm_params"]["input_cost_per_token"] > 0
        assert deployment["model_info"]["dimension"] in SUPPORTED_DIMENSIONS


def test_fallbacks_name_existing_aliases_and_the_router_accepts_every_setting() -> None:
    # given the router settings
    settings = SHIPPED["router_settings"]
    aliases = {d["model_name"] for d in SHIPPED["model_list"]}
    for entry in settings["fallbacks"]:
        for alias, targets in entry.items():
            assert {alias, *targets} <= aliases
    assert {"num_retries", "retry_after", "timeout", "cooldown_time", "allowed_fails"} <= set(settings)
    # when a Router is built from it / then it keeps them
    router = build_router(copy.deepcopy(SHIPPED), LOCAL_MODEL)
    assert router.num_retries == settings["num_retries"]
    assert router.timeout == settings["timeout"]


def test_the_container_router_reads_litellm_config_path(container_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # given LITELLM_CONFIG_PATH naming a config with one extra alias
    config = copy.deepcopy(SHIPPED)
    config["model_list"].append({**copy.deepcopy(config["model_list"][0]), "model_name": "premium"})
    config["model_list"][-1]["model_info"] = {"id": "premium-local"}
    path = tmp_path / "litellm.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    container_env.setenv("LITELLM_CONFIG_PATH", str(path))
    # when the container's Router is built, twice
    router = get_router()
    # then it is the configured one, built once
    assert get_router() is router
    assert "premium" in {d["model_name"] for d in router.model_list}


def test_reservations_price_each_alias_at_its_dearest_deployment_or_fallback(container_env: pytest.MonkeyPatch) -> None:
    # given the shipped config (smart falls back to fast, fast to economy)
    container_env.delenv("LITELLM_CONFIG_PATH", raising=False)
    prices = {
        d["model_name"]: (d["litellm_params"]["input_cost_per_token"], d["litellm_params"]["output_cost_per_token"])
        for d in load_config(DEFAULT_CONFIG)["model_list"]
        if d["model_info"].get("mode") != "embedding"
    }
    # when the worker prices aliases for budget reservations
    pricing = alias_pricing()
    # then each alias is priced at the dearer of itself and its fallback
    assert pricing["smart"] == {"in": prices["smart"][0], "out": prices["smart"][1]}
    dearer = [max(pair) for pair in zip(prices["fast"], prices["economy"], strict=True)]
    assert pricing["fast"] == {"in": dearer[0], "out": dearer[1]}
    assert pricing["economy"] == {"in": prices["economy"][0], "out": prices["economy"][1]}
