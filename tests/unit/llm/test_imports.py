"""Import costs: only workers load litellm, and it never fetches its cost map over the network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return result.stdout.strip()


def test_the_shared_and_llm_packages_and_the_tool_schemas_do_not_import_litellm() -> None:
    # given a fresh interpreter / when shared, shared.llm and the tool schemas are imported
    modules = "shared, shared.llm, shared.llm.tools, shared.llm.router"
    loaded = _python(f"import sys, {modules}; print('litellm' in sys.modules)")
    # then litellm was never loaded
    assert loaded == "False"


def test_importing_the_gateway_loads_litellm_with_the_local_cost_map() -> None:
    # given a fresh interpreter without LITELLM_LOCAL_MODEL_COST_MAP
    code = (
        "import os, sys; from shared.llm import gateway;"
        " print('litellm' in sys.modules, os.environ['LITELLM_LOCAL_MODEL_COST_MAP'])"
    )
    # when the worker's import runs / then litellm is loaded, told to use its bundled cost map
    assert _python(code) == "True True"
