"""The built artefact (``python3 scripts/dev.py package``): built here once when it is missing; and
the production-shaped Router config its worker runs with (a provider faked at the HTTP boundary)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ship import artefact
from ship.build import REPO
from tests.support.fake_openai import FakeProvider, fake_provider

__all__ = ["fake_provider"]


@pytest.fixture(scope="session")
def built_artefact() -> list[artefact.Function]:
    if not artefact.built():
        subprocess.run([sys.executable, "-m", "ship.build"], cwd=REPO, check=True)
    return artefact.functions()


@pytest.fixture(scope="session")
def provider_config(fake_provider: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``infra/litellm/config.yaml`` with every alias served by an OpenAI deployment at the fake provider.

    The artefact ships no local model (it lives in ``local_runtime/``), so its worker calls a provider
    as in production: the same aliases, prices and router settings, another ``litellm_params`` target.
    """
    config = yaml.safe_load((REPO / "infra" / "litellm" / "config.yaml").read_text(encoding="utf-8"))
    for deployment in config["model_list"]:
        embedding = deployment.get("model_info", {}).get("mode") == "embedding"
        model = "openai/text-embedding-3-small" if embedding else "openai/gpt-4o-mini"
        deployment["litellm_params"].update(model=model, api_base=fake_provider.api_base("ok"), api_key="sk-fake")
    path = tmp_path_factory.mktemp("litellm") / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
