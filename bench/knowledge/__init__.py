"""The knowledge-base benchmark: ``python -m bench.knowledge`` (quality, retrieval speed, ingestion)."""
