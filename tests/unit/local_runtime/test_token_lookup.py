"""``token`` finds the running runtime from any shell, or names every place it looked."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_runtime import cli


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """This shell's data folder, and the note ``up`` leaves, both under tmp_path."""
    shell = tmp_path / "shell-data"
    monkeypatch.setenv("CA_DATA_DIR", str(shell))
    monkeypatch.setattr(cli, "CURRENT_RUNTIME", tmp_path / "current-runtime")
    return shell, tmp_path / "current-runtime"


def test_the_runtime_of_an_up_under_another_data_dir_is_found(folders: tuple[Path, Path], tmp_path: Path) -> None:
    # given `up` running with another CA_DATA_DIR, which noted its state file
    _, note = folders
    elsewhere = tmp_path / "other" / "runtime.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text("{}")
    note.write_text(str(elsewhere))
    # when token looks / then it finds that runtime
    found, _ = cli.find_runtime()
    assert found == elsewhere


def test_without_a_runtime_the_message_names_the_data_dir_looked_in(
    folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    shell, _ = folders
    assert cli.main(["token", "--email", "a@example.com"]) == 2
    assert str(shell.resolve() / "runtime.json") in capsys.readouterr().err
