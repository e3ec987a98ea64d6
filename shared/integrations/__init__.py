"""Integrations: WhatsApp numbers and CRMs an organization connects, with write-only credentials in Vault."""
