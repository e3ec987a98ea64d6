"""The event catalog: every event type a subscriber can receive, with the payload it carries.

``public.event_type`` in the database lists the same values; a test keeps the two equal.
Adding a type means adding it here and ``alter type public.event_type add value`` in a migration.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

EventType = Literal[
    "message.created",
    "lead.updated",
    "lead.qualified",
    "handoff.requested",
    "conversion.created",
    "conversation.closed",
    "message.failed",
    "budget.threshold_reached",
]
EVENT_TYPES: Final[tuple[str, ...]] = get_args(EventType)

# What ``data`` holds for each type (ids as strings); emitters add fields, never rename them.
DESCRIPTIONS: Final[dict[str, str]] = {
    "message.created": "A message was stored: conversation_id, message_id, role, channel",
    "message.failed": "An outbound message will not be sent: conversation_id, message_id, role, attempts, problem",
    "lead.updated": "A lead's data, score or stage changed: lead_id, changes",
    "lead.qualified": "A lead reached the agent's qualification threshold: lead_id, conversation_id, score",
    "handoff.requested": "The bot handed the conversation to a human: conversation_id, lead_id, reason",
    "conversion.created": "A conversion was recorded: conversion_id, lead_id, type, value, currency",
    "conversation.closed": "A conversation was closed: conversation_id, lead_id",
    "budget.threshold_reached": "A budget's spend reached one of its alert thresholds (once per period and"
    " threshold): budget_id, agent_id, period, period_start, period_end, threshold, spent_usd, limit_usd",
}


def is_event_type(value: str) -> bool:
    """True when ``value`` names an event in the catalog."""
    return value in EVENT_TYPES
