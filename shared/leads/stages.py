"""The lead stage machine: new → engaged → qualified → handed_off → converted, or lost.

The one place that says how a lead's stage may move. The database holds the same rule as
the table ``app.lead_stage_moves`` (seeded from ``allowed_moves()`` by a migration; a test
keeps the two equal), which a trigger on ``public.leads`` checks for every writer.
"""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

Stage = Literal["new", "engaged", "qualified", "handed_off", "converted", "lost"]
STAGES: tuple[Stage, ...] = get_args(Stage)
_ORDER = {stage: rank for rank, stage in enumerate(("new", "engaged", "qualified", "handed_off", "converted"))}


def can_move(current: Stage, target: Stage) -> bool:
    """Forward moves only (skipping is fine); ``lost`` from anywhere but converted; a lost lead may re-engage."""
    if current == target or current == "converted":
        return False
    if target == "lost":
        return True
    if current == "lost":
        return target in ("engaged", "qualified")
    return _ORDER[target] > _ORDER[current]


def allowed_moves() -> list[tuple[Stage, Stage]]:
    """Every (from, to) move ``can_move`` allows: the rows of ``app.lead_stage_moves``."""
    return [(a, b) for a in STAGES for b in STAGES if can_move(a, b)]


def is_stage(value: object) -> TypeGuard[Stage]:
    """True when ``value`` names a stage."""
    return isinstance(value, str) and value in STAGES
