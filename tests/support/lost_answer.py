"""Lose the answer to one committed script, in process: the psycopg error a dropped connection raises.

``shared.db`` sends a worker's script again, once, when its connection drops. ``answer_lost_once``
lets the first script naming a marker run (and commit) on the real Postgres, then closes the
connection and raises as a dropped one does, so the real retry runs. ``LossyLink`` does the same
at the TCP level for the HTTP functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

import psycopg


@contextmanager
def answer_lost_once(marker: str) -> Iterator[list[bytes]]:
    """The first script naming ``marker`` runs (and commits) on the server, then its answer is lost."""
    real = psycopg.AsyncCursor.execute
    lost: list[bytes] = []

    async def execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        done = await real(self, query, params, **kwargs)
        text = query if isinstance(query, bytes) else str(query).encode()
        if not lost and marker.encode() in text:
            lost.append(text)
            await self.connection.close()  # the connection is gone, as a dropped one is
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return done

    with patch.object(psycopg.AsyncCursor, "execute", execute):
        yield lost
