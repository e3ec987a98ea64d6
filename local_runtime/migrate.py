"""Apply the Supabase compat script and the migrations, in order, recording each version.

Versions are kept in ``supabase_migrations.schema_migrations``, the table the
Supabase CLI uses, so a database migrated here looks the same to the CLI.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg

SUPABASE_DIR = Path(__file__).resolve().parents[1] / "infra" / "supabase"

_HISTORY = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
    version text primary key, statements text[], name text
);
"""


# Every landed migration's sha256 (``sha256sum`` format), as the Supabase CLI keeps its history: a test
# fails when a listed file changes or a file is not listed; ``python3 scripts/dev.py migrations freeze``
# appends new files. A landed migration is never edited: the next change is a new file.
CHECKSUMS = SUPABASE_DIR / "migrations.sha256"


def checksum(path: Path) -> str:
    """The sha256 of one migration file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frozen(checksums: Path = CHECKSUMS) -> dict[str, str]:
    """``{file name: sha256}`` of the frozen migrations."""
    if not checksums.exists():
        return {}
    pairs = (line.split(maxsplit=1) for line in checksums.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def freeze(root: Path = SUPABASE_DIR, checksums: Path = CHECKSUMS) -> list[str]:
    """Append every migration file not yet listed; the names appended (listed ones are never rewritten)."""
    known = frozen(checksums)
    new = [path for path in migration_files(root) if path.name not in known]
    with checksums.open("a", encoding="utf-8") as out:
        for path in new:
            out.write(f"{checksum(path)}  {path.name}\n")
    return [path.name for path in new]


def migration_files(root: Path = SUPABASE_DIR) -> list[Path]:
    """Migration files in the order the CLI applies them (by file name)."""
    return sorted((root / "migrations").glob("*.sql"))


def apply_compat(conn: psycopg.Connection[object], root: Path = SUPABASE_DIR) -> None:
    """Create what Supabase provides (auth schema, roles, publication) where it is missing."""
    for path in sorted((root / "compat").glob("*.sql")):
        conn.execute(path.read_text(encoding="utf-8"))


def apply_migrations(url: str, root: Path = SUPABASE_DIR, *, seed: bool = False) -> list[str]:
    """Bring the database at ``url`` up to date; return the versions applied now."""
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(7220016)")
        try:
            apply_compat(conn, root)
            conn.execute(_HISTORY)
            done = {row[0] for row in conn.execute("select version from supabase_migrations.schema_migrations")}
            for path in migration_files(root):
                version, _, name = path.stem.partition("_")
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8"))
                    conn.execute(
                        "insert into supabase_migrations.schema_migrations (version, name) values (%s, %s)",
                        (version, name),
                    )
                applied.append(version)
            if seed and (root / "seed.sql").exists():
                conn.execute((root / "seed.sql").read_text(encoding="utf-8"))
        finally:
            conn.execute("select pg_advisory_unlock(7220016)")
    return applied
