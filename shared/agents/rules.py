"""Validate a whole agent configuration: field shapes, then the rules that span fields.

Errors name the request field they come from (``body.scoring.rubric.budget``), since a
create or update body carries the configuration keys at its top level.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from shared.agents.config import AgentConfig
from shared.errors import FieldError, InvalidInput
from shared.leads.fields import CONTACT_FIELDS


def build_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON to store for ``values``, with defaults filled in; InvalidInput names each bad field."""
    try:
        config = AgentConfig.model_validate(dict(values))
    except ValidationError as exc:
        raise _invalid([FieldError(_loc(err["loc"]), err["msg"]) for err in exc.errors()]) from exc
    errors = cross_field_errors(config)
    if errors:
        raise _invalid(errors)
    return config.model_dump(mode="json", exclude_none=True)


def cross_field_errors(config: AgentConfig) -> list[FieldError]:
    """Unique field names, a rubric over known fields that can reach the threshold, a coherent follow-up."""
    errors: list[FieldError] = []
    names: set[str] = set()
    for index, field in enumerate(config.qualification_fields):
        if field.name in names:
            errors.append(FieldError(f"body.qualification_fields.{index}.name", f"duplicates field '{field.name}'"))
        names.add(field.name)
    rubric = config.scoring.rubric
    if rubric:
        for name in rubric:
            if name not in names and name not in CONTACT_FIELDS:
                errors.append(FieldError(f"body.scoring.rubric.{name}", "is not one of the qualification fields"))
        if sum(rubric.values()) < config.scoring.qualified_threshold:
            reachable = f"cannot be reached: the rubric's points add up to {sum(rubric.values())}"
            errors.append(FieldError("body.scoring.qualified_threshold", reachable))
    follow_up = config.follow_up
    if follow_up.enabled and not follow_up.steps and not follow_up.delays_hours:
        errors.append(FieldError("body.follow_up.delays_hours", "needs at least one delay when follow-ups are enabled"))
    if follow_up.max_attempts > len(follow_up.delays_hours):
        errors.append(FieldError("body.follow_up.max_attempts", "needs one delay in delays_hours per attempt"))
    if any(b <= a for a, b in zip(follow_up.delays_hours, follow_up.delays_hours[1:], strict=False)):
        errors.append(FieldError("body.follow_up.delays_hours", "must increase from one attempt to the next"))
    steps = follow_up.steps
    for index, (a, b) in enumerate(pairwise(steps), start=1):
        if b.after_minutes <= a.after_minutes:
            errors.append(FieldError(f"body.follow_up.steps.{index}.after_minutes", "must increase from step to step"))
    if len(set(follow_up.business_days)) != len(follow_up.business_days):
        errors.append(FieldError("body.follow_up.business_days", "lists a day twice"))
    if follow_up.quiet_hours.start == follow_up.quiet_hours.end:
        errors.append(FieldError("body.follow_up.quiet_hours.end", "must differ from start"))
    return errors


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(["body", *(str(part) for part in loc)])


def _invalid(errors: list[FieldError]) -> InvalidInput:
    return InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
