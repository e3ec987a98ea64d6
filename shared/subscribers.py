"""Every kind of event subscriber, keyed by kind; the dispatcher and the worker both read it.

CRM adapters (HubSpot, Pipedrive, RD Station, read from ``public.integrations``) sit beside the
developer webhooks. The composition root of delivery: it sits above ``shared.events``, ``shared.crm``
and ``shared.webhooks``, so ``shared.events`` never imports its deliverers.
"""

from __future__ import annotations

from shared.events.delivery import Deliverer


def deliverers() -> dict[str, Deliverer]:
    """A deliverer per subscriber kind; build once per container."""
    from shared.crm import hubspot, pipedrive, rdstation
    from shared.crm.deliverer import CrmDeliverer
    from shared.webhooks.delivery import WebhookDeliverer

    found: list[Deliverer] = [
        WebhookDeliverer(),
        CrmDeliverer("hubspot", hubspot.sync),
        CrmDeliverer("pipedrive", pipedrive.sync),
        CrmDeliverer("rdstation", rdstation.sync),
    ]
    return {deliverer.kind: deliverer for deliverer in found}
