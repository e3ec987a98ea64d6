"""Outcome analytics: funnel, outcomes, cost and quality reports over the per-conversation rollup."""
