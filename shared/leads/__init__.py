"""Leads: the stage machine, normalisation and scoring."""
