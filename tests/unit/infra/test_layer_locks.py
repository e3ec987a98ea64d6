"""The layer lock files: hash-locked, consistent between layers, free of what the runtime ships."""

from __future__ import annotations

import pytest

from ship.layers import ARCHITECTURES, HTTP, LLM, RUNTIME_PROVIDED, parse_lock, pins, requirements_for

ARCHES = sorted(ARCHITECTURES)


@pytest.mark.parametrize("arch", ARCHES)
def test_every_pin_of_every_layer_lock_carries_hashes(arch: str) -> None:
    # given both layer locks of an architecture
    for layer in (HTTP, LLM):
        blocks = parse_lock(layer.lock(arch))
        # then every package is pinned exactly, with at least one hash
        assert blocks
        for name, block in blocks.items():
            assert "==" in block.splitlines()[0], name
            assert "--hash=sha256:" in block, name


@pytest.mark.parametrize("arch", ARCHES)
def test_the_http_layer_is_slim(arch: str) -> None:
    # given the HTTP layer's pins
    http = pins(HTTP.lock(arch))
    # then it has the web stack but none of the model, SDK or runtime packages
    assert {"fastapi", "mangum", "psycopg-binary", "phonenumbers", "pyjwt"} <= set(http)
    assert not {"litellm", "supabase", "cryptography", "phonenumberslite", "pyyaml", *RUNTIME_PROVIDED} & set(http)


@pytest.mark.parametrize("arch", ARCHES)
def test_the_llm_layer_pins_litellm_exactly_and_agrees_with_the_http_layer(arch: str) -> None:
    # given both locks
    http, llm = pins(HTTP.lock(arch)), pins(LLM.lock(arch))
    # then litellm is the pinned release, and shared packages have one version
    assert llm["litellm"] == "1.106.2"
    assert {name: llm[name] for name in http} == http
    assert not set(RUNTIME_PROVIDED) & set(llm)
    # and the LLM layer installs only what the HTTP layer lacks
    installs = requirements_for(LLM, arch)
    assert "litellm==1.106.2" in installs
    assert "fastapi==" not in installs


def test_both_architectures_lock_the_same_versions() -> None:
    # given the arm64 lock (deployed) and its x86_64 twin (run by the smoke test here)
    for layer in (HTTP, LLM):
        # then they pin the same packages at the same versions
        assert pins(layer.lock("arm64")) == pins(layer.lock("x86_64"))
