"""Every kind of event subscriber, keyed by kind; the dispatcher and the worker both read it.

A CRM adapter (HubSpot, Pipedrive, RD Station, read from ``public.integrations``) adds one
entry here. Imports are deferred so that ``shared.events`` does not import its deliverers.
"""

from __future__ import annotations

from shared.events.delivery import Deliverer


def deliverers() -> dict[str, Deliverer]:
    """A deliverer per subscriber kind; build once per container."""
    from shared.webhooks.delivery import WebhookDeliverer

    found: list[Deliverer] = [WebhookDeliverer()]
    return {deliverer.kind: deliverer for deliverer in found}
