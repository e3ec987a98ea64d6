"""Conversations between agents (or humans) and leads: the API, the widget and the turn queue."""
