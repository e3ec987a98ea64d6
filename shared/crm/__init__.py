"""CRM sync both ways: deliverers that push our events to HubSpot, Pipedrive and RD Station, and their webhooks."""
