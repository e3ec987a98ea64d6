"""A TCP link to the test Postgres that can lose one exchange on purpose, as a real network does.

The functions connect to ``LossyLink.url`` (127.0.0.1, as a Lambda reaches Supavisor over TCP); each
connection is relayed to the test database (its Unix socket or TCP address) by a thread of its own.
The faults:

- ``reset_next_send(containing)``: the next query that contains those bytes is not relayed and its
  connection is reset. The server never sees the query.
- ``lose_next_answer(containing)``: the next such query is relayed and runs; its answer is dropped and
  the client's connection reset, as when a connection dies between the server's commit and our read
  of its answer.
- ``expire_flows``: every connection open now is reset at its next query, as when NAT mappings expire
  while a container is frozen (AWS's NAT gateway answers an expired flow with a reset); the server
  never sees that query, and new connections work.

Nothing is slept on: each fault fires on the bytes themselves.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset, not a FIN


class LossyLink:
    """A forwarder on 127.0.0.1 to the Postgres at ``database_url``; ``url`` is what the functions use."""

    def __init__(self, database_url: str) -> None:
        info = psycopg.conninfo.conninfo_to_dict(database_url)
        host, port = str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432)
        self._upstream: tuple[int, str | tuple[str, int]] = (
            (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}") if host.startswith("/") else (socket.AF_INET, (host, port))
        )
        self._listener = socket.create_server(("127.0.0.1", 0))
        tcp = {**info, "host": "127.0.0.1", "port": self._listener.getsockname()[1]}
        self.url = psycopg.conninfo.make_conninfo("", **tcp)
        self._armed: tuple[str, bytes] | None = None
        self._lock = threading.Lock()
        self._open: set[int] = set()  # the relays (by number) open now
        self._expired: set[int] = set()
        self._numbers = iter(range(1, 1 << 30))
        self.fired: list[str] = []  # the faults that fired, in order
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def reset_next_send(self, containing: bytes = b"") -> None:
        """The next query with ``containing`` in it is dropped and its connection reset."""
        self._arm("reset_next_send", containing)

    def lose_next_answer(self, containing: bytes = b"") -> None:
        """The next query with ``containing`` in it runs; its answer is dropped and its connection reset."""
        self._arm("lose_next_answer", containing)

    def expire_flows(self) -> None:
        """Every connection open now is reset at its next query, before the server sees it."""
        with self._lock:
            self._expired |= self._open

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _arm(self, fault: str, containing: bytes) -> None:
        with self._lock:
            self._armed = (fault, containing)

    def _fault_for(self, number: int, query: bytes) -> str | None:
        """The fault this query meets, if any (an armed one fires once)."""
        with self._lock:
            if number in self._expired:
                return "expired"
            if self._armed is not None and self._armed[1] in query:
                fault, self._armed = self._armed[0], None
                return fault
            return None

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(self._upstream[0], socket.SOCK_STREAM)
            upstream.connect(self._upstream[1])
            with self._lock:
                number = next(self._numbers)
                self._open.add(number)
            threading.Thread(target=self._relay, args=(number, client, upstream), daemon=True).start()

    def _relay(self, number: int, client: socket.socket, upstream: socket.socket) -> None:
        """Both directions on one thread, so a fault closes sockets no other thread is reading."""
        started = False  # the startup exchange (and TLS negotiation) passes untouched
        answer_lost = False
        try:
            while True:
                readable, _, _ = select.select([client, upstream], [], [])
                if client in readable:
                    data = client.recv(65536)
                    if not data:
                        return
                    fault = self._fault_for(number, data) if started and data[:1] == b"Q" else None
                    if fault in ("reset_next_send", "expired"):
                        self.fired.append(str(fault))
                        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                        return
                    answer_lost = answer_lost or fault == "lose_next_answer"
                    upstream.sendall(data)
                if upstream in readable:
                    data = upstream.recv(65536)
                    if not data:
                        return
                    if not answer_lost:
                        client.sendall(data)
                        started = started or _ready(data)
                    elif _ready(data):  # the whole query ran, its commit included: now its answer is lost
                        self.fired.append("lose_next_answer")
                        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                        return
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(number)
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.close()


def _ready(data: bytes) -> bool:
    """Whether ``data`` ends with ReadyForQuery ('Z', length 5, a status byte): the server is done."""
    return len(data) >= 6 and data[-6:-1] == b"Z\x00\x00\x00\x05"


@contextmanager
def lossy_link(database_url: str) -> Iterator[LossyLink]:
    """A ``LossyLink`` for the length of the block."""
    link = LossyLink(database_url)
    try:
        yield link
    finally:
        link.close()
