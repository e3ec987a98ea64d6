"""The knowledge queue's job message (SQS FIFO, one message group per source)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class IngestJob(BaseModel):
    """Index source ``document_id`` as it was when ``requested_at`` was set."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    type: Literal["ingest"] = "ingest"
    document_id: uuid.UUID
    requested_at: datetime


def parse(body: str) -> IngestJob:
    """The job a queue message carries; ``pydantic.ValidationError`` for anything else."""
    return IngestJob.model_validate_json(body)
