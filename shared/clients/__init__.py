"""Client factories: each builds its client once per container and reuses it."""
