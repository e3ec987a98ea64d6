"""Model turns: what a queue worker does with one lead message (workers only)."""
