"""The lead stage machine: new → engaged → qualified → handed_off → converted, or lost."""

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


def is_stage(value: object) -> TypeGuard[Stage]:
    """True when ``value`` names a stage."""
    return isinstance(value, str) and value in STAGES
