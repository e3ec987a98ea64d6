"""shared.db.session: claims JSON remembered per claims object, and JSON values read back, exactly as json would."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.db import session


def _claims(email: str = "ana@example.com") -> dict[str, object]:
    return {"sub": str(uuid.uuid4()), "role": "authenticated", "email": email, "exp": 2_000_000_000}


def test_the_same_claims_object_gives_its_json_from_memory() -> None:
    # given verified claims, dumped once
    claims = _claims("zoë@example.com")
    first = session._claims_json(claims)
    # when they are dumped again
    again = session._claims_json(claims)
    # then the text is the one remembered, and it is the claims' compact JSON
    assert again is first
    assert json.loads(again) == claims
    assert again == json.dumps(claims, separators=(",", ":"))


def test_other_claims_never_get_anothers_json() -> None:
    # given many distinct claims objects, more than the memory holds, each dumped in turn
    every = [_claims(f"user{i}@example.com") for i in range(session._OPENINGS_SIZE + 10)]
    texts = [session._claims_json(claims) for claims in every]
    # then each got its own JSON, and the memory stayed bounded
    assert [json.loads(t) for t in texts] == every
    assert len(session._CLAIMS_JSON) <= session._OPENINGS_SIZE
    # and a fresh, equal object gets the same text as its twin
    twin = dict(every[-1])
    assert session._claims_json(twin) == texts[-1]


def test_json_values_read_back_exactly_as_json_loads_reads_them() -> None:
    # given JSON documents as Postgres sends them (UTF-8 bytes, a memoryview, no surrounding whitespace)
    documents = [
        {},
        [],
        {"model": "fast", "persona": "zoë", "n": 3, "f": 1.5, "none": None, "nested": {"list": [1, "two", True]}},
        "a string",
        42,
        None,
    ]
    # when each is read by the loader psycopg now uses
    # then it is exactly what json.loads reads
    for document in documents:
        raw = json.dumps(document, ensure_ascii=False).encode()
        assert session._json_loads(memoryview(raw)) == json.loads(raw)
        assert session._json_loads(raw) == json.loads(raw)


def test_malformed_or_padded_json_is_left_to_json_loads() -> None:
    # given text with surrounding whitespace, trailing content, or no JSON at all
    # then whitespace is read as json.loads reads it, and the rest raises as json.loads raises
    assert session._json_loads(b' {"a": 1} ') == {"a": 1}
    for bad in (b"", b'{"a": 1} x', b"{", b"nope"):
        with pytest.raises(json.JSONDecodeError):
            session._json_loads(bad)
