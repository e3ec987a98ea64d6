"""Whether a turn's reply could reach the lead at all: decided before any model call.

On WhatsApp a reply cannot go out to a lead who opted out, nor outside the 24-hour window
when the agent has no approved template. Such a turn calls no model and is charged nothing;
the lead message keeps the reason as its problem.
"""

from __future__ import annotations

from shared.agents.config import whatsapp_template
from shared.turns.context import TurnContext
from shared.turns.outcome import Problem


def undeliverable(ctx: TurnContext) -> Problem | None:
    """Why no reply could be delivered now, or None when one can."""
    if ctx.conversation.channel != "whatsapp":
        return None
    if not ctx.delivery.consent:
        return Problem(
            type="/problems/whatsapp-opted-out",
            title="Lead opted out",
            status=422,
            detail="the lead opted out of WhatsApp messages; no reply was generated",
        )
    if not ctx.delivery.window_open and not whatsapp_template(ctx.config.whatsapp):
        return Problem(
            type="/problems/whatsapp-window-closed",
            title="Outside the 24-hour window",
            status=422,
            detail="no approved template is configured; no reply was generated",
        )
    return None
