"""The built artefact (``python3 scripts/dev.py package``): built here once when it is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ship import artefact
from ship.build import REPO


@pytest.fixture(scope="session")
def built_artefact() -> list[artefact.Function]:
    if not artefact.built():
        subprocess.run([sys.executable, "-m", "ship.build"], cwd=REPO, check=True)
    return artefact.functions()
