"""shared.db.session: the claims' JSON, remembered per claims object, is always the claims' own JSON."""

from __future__ import annotations

import json
import uuid

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
