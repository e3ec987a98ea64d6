"""Budgets and LLM usage as the API reads and sets them: limits, spend from the ledger, reservations."""
