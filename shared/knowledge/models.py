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


AgentIds = Annotated[list[uuid.UUID], Field(max_length=100)]
# What an uploaded file may be (the extractors of shared/knowledge/extraction.py read these), and its size.
FILE_TYPES = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "text/plain": "TXT",
    "text/markdown": "MD",
    "text/html": "HTML",
}
MAX_FILE_BYTES = 20 * 1024 * 1024
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_ -][A-Za-z0-9._ -]{0,199}$")]


class _Create(_Strict):
    title: Title
    agent_id: uuid.UUID | None = Field(default=None, description="one agent that reads it (agent_ids: several)")
    agent_ids: AgentIds | None = Field(
        default=None, description="the agents that read it; none (and no agent_id): every agent"
    )
    language: Language = Field(default="portuguese", description="the full-text search configuration")

    def readers(self) -> list[uuid.UUID]:
        """The agents attached: ``agent_ids``, or ``agent_id`` alone, or none (every agent)."""
        chosen = self.agent_ids if self.agent_ids is not None else [self.agent_id] if self.agent_id else []
        return list(dict.fromkeys(chosen))


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


class CreateFile(_Create):
    kind: Literal["file"]
    file_name: FileName = Field(description="the file's name (letters, digits, '.', '_', '-', space)")
    media_type: str = Field(description="PDF, DOCX, TXT, MD or HTML: " + ", ".join(FILE_TYPES))
    size: int = Field(gt=0, description=f"the file's size in bytes (at most {MAX_FILE_BYTES})")


CreateSource = Annotated[CreateText | CreateFaq | CreateUrl | CreateFile, Field(discriminator="kind")]


class UpdateSource(_Strict):
    """New content for a source: it is indexed again as a new version (unchanged content: nothing changes)."""

    title: Title | None = None
    content: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)] | None = None
    faq: list[FaqEntry] | None = Field(default=None, min_length=1, max_length=500)
    url: HttpUrl | None = None
    agent_ids: AgentIds | None = Field(default=None, description="the agents that read it ([]: every agent)")


class Upload(BaseModel):
    """Where the file of a ``file`` source goes: a Supabase Storage upload with the caller's own token
    (storage RLS admits the organization's editors), then ``POST /knowledge/sources/{id}/reindex``."""

    bucket: str
    path: str
    url: str = Field(description="POST the file here (Authorization: Bearer <your token>, its content type)")


class Source(BaseModel):
    """A knowledge source and the state of its index."""

    id: uuid.UUID
    organization_id: uuid.UUID
    agent_id: uuid.UUID | None
    agent_ids: list[uuid.UUID] = Field(default_factory=list, description="the agents that read it; []: every agent")
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
    file_name: str | None = None
    media_type: str | None = None
    size: int | None = None
    upload: Upload | None = Field(default=None, description="file sources: where to upload the file")


class SourceList(BaseModel):
    """One page of sources, newest first."""

    data: list[Source]
    next_cursor: str | None = None
