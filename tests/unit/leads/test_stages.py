"""The lead stage machine and field normalisation."""

from __future__ import annotations

import pytest

from shared.leads.fields import normalise_email, normalise_phone, normalise_value
from shared.leads.scoring import missing_required, score
from shared.leads.stages import can_move

REQUIRED = ["name", "email", "budget"]


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("new", "engaged", True),
        ("new", "qualified", True),
        ("engaged", "qualified", True),
        ("qualified", "handed_off", True),
        ("handed_off", "converted", True),
        ("qualified", "engaged", False),
        ("converted", "lost", False),
        ("converted", "qualified", False),
        ("engaged", "lost", True),
        ("lost", "engaged", True),
        ("lost", "converted", False),
        ("engaged", "engaged", False),
    ],
)
def test_stage_moves(current: str, target: str, allowed: bool) -> None:
    # given a lead in `current` / when it would move to `target` / then only forward moves (and lost) are allowed
    assert can_move(current, target) is allowed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+55 11 91234-5678", "+5511912345678"),
        ("(11) 91234-5678", "+5511912345678"),
        ("11912345678", "+5511912345678"),
        ("+1 415 555 2671", "+14155552671"),
        ("12345", None),
        ("not a phone", None),
    ],
)
def test_phones_are_normalised_to_e164(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


def test_emails_are_lower_cased_and_checked() -> None:
    assert normalise_email("  Ana.Souza@Example.COM ") == "ana.souza@example.com"
    assert normalise_email("ana@") is None


def test_values_are_coerced_to_their_field_type() -> None:
    assert normalise_value("money", "1500,50") == 1500.5
    assert normalise_value("money", "-3") is None
    assert normalise_value("boolean", "sim") is True
    assert normalise_value("text", "  ok ") == "ok"
    assert normalise_value("text", "   ") is None


def test_score_without_rubric_shares_points_between_required_fields() -> None:
    # given two of three required fields known / then two thirds of the points
    assert score({"name": "Ana", "email": "a@b.co"}, REQUIRED, None) == 67
    assert missing_required({"name": "Ana", "email": "a@b.co"}, REQUIRED) == ["budget"]


def test_score_with_rubric_sums_and_caps() -> None:
    assert score({"budget": 10, "phone": "+5511912345678"}, REQUIRED, {"budget": 80, "phone": 50}) == 100
    assert score({}, REQUIRED, {"budget": 80}) == 0
