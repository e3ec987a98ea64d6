"""The knowledge queue's job messages (SQS FIFO, one message group per source)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter


class IngestJob(BaseModel):
    """Index source ``document_id`` as it was when ``requested_at`` was set."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    type: Literal["ingest"] = "ingest"
    document_id: uuid.UUID
    requested_at: datetime

    @property
    def deduplication_id(self) -> str:
        return f"{self.document_id}:{self.requested_at.timestamp():.6f}"


class RemoveFileJob(BaseModel):
    """Remove the uploaded file of deleted source ``document_id`` (``path`` in the knowledge bucket)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    type: Literal["remove_file"] = "remove_file"
    document_id: uuid.UUID
    path: str = Field(min_length=1, max_length=1024)

    @property
    def deduplication_id(self) -> str:
        return f"{self.document_id}:remove"


def _kind(value: Any) -> str:
    """A message without ``type`` is an ingestion job (the first messages had none)."""
    found = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return str(found or "ingest")


Job = Annotated[
    Annotated[IngestJob, Tag("ingest")] | Annotated[RemoveFileJob, Tag("remove_file")], Discriminator(_kind)
]
_JOB: TypeAdapter[IngestJob | RemoveFileJob] = TypeAdapter(Job)


def parse(body: str) -> IngestJob | RemoveFileJob:
    """The job a queue message carries; ``pydantic.ValidationError`` for anything else."""
    return _JOB.validate_json(body)
