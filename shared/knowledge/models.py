"""Request and response models of the knowledge API: one create body per source kind, told apart by ``kind``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Language = Literal["portuguese", "english", "spanish", "simple"]
MAX_TEXT_CHARS = 500_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaqEntry(_Strict):
    """One question and its answer."""

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]


class _Create(_Strict):
    title: Title
    agent_id: uuid.UUID | None = Field(default=None, description="the one agent that reads it; null: every agent")
    language: Language = Field(default="portuguese", description="the full-text search configuration")


class CreateText(_Create):
    kind: Literal["text"]
    content: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)] = Field(
        description="plain text or Markdown; headings (#) structure the chunks"
    )


class CreateFaq(_Create):
    kind: Literal["faq"]
    faq: list[FaqEntry] = Field(min_length=1, max_length=500)


class CreateUrl(_Create):
    kind: Literal["url"]
    url: HttpUrl = Field(description="a public http(s) page; the worker fetches it (public addresses only)")


CreateSource = Annotated[CreateText | CreateFaq | CreateUrl, Field(discriminator="kind")]


class UpdateSource(_Strict):
    """New content for a source: it is indexed again as a new version (unchanged content: nothing changes)."""

    title: Title | None = None
    content: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)] | None = None
    faq: list[FaqEntry] | None = Field(default=None, min_length=1, max_length=500)
    url: HttpUrl | None = None


class Source(BaseModel):
    """A knowledge source and the state of its index."""

    id: uuid.UUID
    organization_id: uuid.UUID
    agent_id: uuid.UUID | None
    kind: str
    title: str
    url: str | None = None
    language: str
    status: Literal["pending", "processing", "ready", "failed"]
    problem: str | None = Field(description="why the last indexing failed")
    version: int = Field(description="the version whose chunks are served (0: none yet)")
    content_hash: str | None
    chunk_count: int
    embedding_model: str | None
    indexed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SourceList(BaseModel):
    """One page of sources, newest first."""

    data: list[Source]
    next_cursor: str | None = None
