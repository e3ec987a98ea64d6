"""The WhatsApp Cloud API channel: the signed webhook (inbound, statuses) and sends through the Graph API."""
