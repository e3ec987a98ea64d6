"""Developer webhooks: endpoints an organization registers, signed deliveries, and their log."""
