"""Experiments between agent versions: sticky assignment (in SQL), results with intervals, promotion."""
