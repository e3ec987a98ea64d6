"""Domain events: the catalog, the transactional outbox, and dispatch to subscribers (webhooks, CRMs)."""
