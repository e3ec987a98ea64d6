"""Time zones on Lambda: the python3.12 image has no system tz database, so the layers ship ``tzdata``.

Follow-ups judge quiet hours in the lead's zone with ``zoneinfo``; where no zone data is found,
``shared.followups.calendar`` silently falls back to UTC. So every layered function that may use
zoneinfo must resolve zones from the artefact alone: the test runs Python 3.12 on the read-only
layout with the system paths hidden (``PYTHONTZPATH`` pointing at an empty folder).
"""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ship import artefact
from ship.build import BUILD, REPO, host_arch, target_arch
from ship.smoke import Runner

pytestmark = pytest.mark.artefact

PROBE = """
import sys, zoneinfo
sys.path[:0] = sys.argv[1:]
zone = zoneinfo.ZoneInfo("America/Sao_Paulo")
import datetime
print(datetime.datetime(2026, 7, 1, 12, tzinfo=datetime.UTC).astimezone(zone).utcoffset().total_seconds())
"""


def _uses_zoneinfo() -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in (REPO / "shared").rglob("*.py") if "zoneinfo" in p.read_text())


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    runner = Runner()
    yield runner
    runner.close()


def _resolve(runner: Runner, paths: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    empty = tmp_path / "no-system-zones"
    empty.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "PYTHONTZPATH": str(empty), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [str(runner.python312), "-I", "-S", "-c", PROBE, *paths], env=env, capture_output=True, text=True, check=False
    )


def test_the_layers_ship_tzdata_when_shared_code_uses_zoneinfo(built_artefact: list[artefact.Function]) -> None:
    # given shared/ code that uses zoneinfo (shipped in the http layer, under every function)
    assert _uses_zoneinfo(), "nothing uses zoneinfo any more: this test and tzdata can go"
    # then the http layer, which every function lists, holds the IANA database
    for function in built_artefact:
        assert function.layers[0] == "http", function.name
    for arch in {target_arch(), host_arch()}:
        with zipfile.ZipFile(BUILD / "layers" / arch / "http.zip") as zf:
            names = set(zf.namelist())
        assert "python/tzdata/zoneinfo/America/Sao_Paulo" in names, f"no tzdata in the {arch} http layer"


@pytest.mark.parametrize("name", ["followUps", "turnWorker"])
def test_a_zone_resolves_from_the_read_only_artefact_without_system_data(
    name: str, built_artefact: list[artefact.Function], runner: Runner, tmp_path: Path
) -> None:
    # given a function that schedules follow-ups, laid out read-only as Lambda lays it out
    function = next(f for f in built_artefact if f.name == name)
    task, opt = runner.layout(function)
    # when Python 3.12, with no system time-zone data reachable, asks for São Paulo
    hidden = _resolve(runner, [], tmp_path)
    found = _resolve(runner, [str(task), str(opt / "python")], tmp_path)
    # then it fails without the artefact (so this test can fail) and resolves from the layers (UTC-3)
    assert hidden.returncode != 0, hidden.stdout
    assert "ZoneInfoNotFoundError" in hidden.stderr
    assert found.returncode == 0, found.stderr
    assert float(found.stdout.strip()) == -3 * 3600
