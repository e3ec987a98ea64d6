"""A landed migration is never edited: every migration file is listed in migrations.sha256 with its checksum."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_runtime.migrate import CHECKSUMS, checksum, freeze, frozen, migration_files


def test_every_frozen_migration_still_has_its_checksum() -> None:
    # given the checksums recorded when each migration landed / then each file is unchanged
    changed = [name for name, digest in frozen().items() if checksum(CHECKSUMS.parent / "migrations" / name) != digest]
    assert changed == [], f"landed migrations were edited (add a new migration instead): {changed}"


def test_every_migration_file_is_frozen() -> None:
    unlisted = [p.name for p in migration_files() if p.name not in frozen()]
    assert unlisted == [], f"run `python3 scripts/dev.py migrations freeze` to list {unlisted}"


def test_freeze_appends_only_new_files_and_an_edit_is_detected(tmp_path: Path) -> None:
    # given a migrations folder with one frozen file
    (tmp_path / "migrations").mkdir()
    first = tmp_path / "migrations" / "20260101000000_a.sql"
    first.write_text("create table a ();\n")
    checksums = tmp_path / "migrations.sha256"
    assert freeze(tmp_path, checksums) == ["20260101000000_a.sql"]
    # when a second file lands and the first is edited
    (tmp_path / "migrations" / "20260102000000_b.sql").write_text("create table b ();\n")
    first.write_text("create table a (id int);\n")
    # then freezing lists only the new file and keeps the first one's original checksum
    assert freeze(tmp_path, checksums) == ["20260102000000_b.sql"]
    assert frozen(checksums)["20260101000000_a.sql"] != checksum(first)


@pytest.mark.parametrize("name", [p.name for p in migration_files()])
def test_migration_names_start_with_a_timestamp(name: str) -> None:
    version, _, rest = name.partition("_")
    assert len(version) == 14
    assert version.isdigit()
    assert rest.endswith(".sql")
