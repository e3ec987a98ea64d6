"""The knowledge queue's messages: an ingestion job (with or without its type) and a file removal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.knowledge import jobs


def test_each_job_round_trips_through_its_message_body() -> None:
    # given an ingestion job and a removal job
    source = uuid.uuid4()
    ingest = jobs.IngestJob(document_id=source, requested_at=datetime(2026, 12, 1, tzinfo=UTC))
    remove = jobs.RemoveFileJob(document_id=source, path=f"org/{source}/manual.pdf")
    # when their bodies are parsed / then each is itself, with a deduplication id of its own
    assert jobs.parse(ingest.model_dump_json()) == ingest
    assert jobs.parse(remove.model_dump_json()) == remove
    assert ingest.deduplication_id != remove.deduplication_id


def test_a_message_without_a_type_is_an_ingestion_job() -> None:
    source = uuid.uuid4()
    body = f'{{"document_id": "{source}", "requested_at": "2026-12-01T00:00:00Z"}}'
    assert jobs.parse(body) == jobs.IngestJob(document_id=source, requested_at=datetime(2026, 12, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "body",
    ['{"type": "dance", "document_id": "x"}', f'{{"type": "remove_file", "document_id": "{uuid.uuid4()}"}}', "[]"],
)
def test_anything_else_is_a_validation_error(body: str) -> None:
    with pytest.raises(ValidationError):
        jobs.parse(body)
