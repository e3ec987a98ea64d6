"""Benchmarks (not tests): ``python -m bench`` prints a markdown table. Nothing is asserted."""
