-- Knowledge sources and their versioned, embedded chunks (issue 12).
--
-- knowledge_documents becomes a source: text/Markdown, an FAQ (question/answer pairs) or a web page
-- URL, with a status the ingestion worker moves (pending -> processing -> ready | failed, with a
-- problem), the content hash and version of what is indexed, and the search configuration of its
-- language. agent_id null means every agent of the organization reads it.
--
-- Chunks carry the version they belong to: the worker writes a whole new version in one transaction
-- and removes the old one in that same transaction, so retrieval never sees half a version.
-- The embedding column loses its fixed dimension: its dimension (vector_dims) selects one of the
-- per-dimension partial HNSW indexes, each over a cast to that dimension, so organizations on
-- different embedding models (384, 768, 1536 dimensions) share one table and each query uses the
-- index of its own dimension.

alter table public.knowledge_documents
    add column kind text not null default 'text'
        constraint knowledge_documents_kind_check check (kind in ('text', 'faq', 'url')),
    add column faq jsonb
        constraint knowledge_documents_faq_check check (faq is null or jsonb_typeof(faq) = 'array'),
    add column language text not null default 'portuguese'
        constraint knowledge_documents_language_check check (language in ('portuguese', 'english', 'spanish', 'simple')),
    add column problem text,
    add column content_hash text,
    add column version integer not null default 0 constraint knowledge_documents_version_check check (version >= 0),
    add column embedding_model text,
    add column chunk_count integer not null default 0,
    add column index_requested_at timestamptz not null default now(),
    add column indexed_at timestamptz;

alter table public.knowledge_documents drop constraint knowledge_documents_status_check;
alter table public.knowledge_documents add constraint knowledge_documents_status_check
    check (status in ('pending', 'processing', 'ready', 'failed'));
alter table public.knowledge_documents add constraint knowledge_documents_kind_fields_check check (
    (kind = 'url' and source_url is not null) or (kind = 'faq' and faq is not null) or kind = 'text'
);

-- A change to what a source holds (or an explicit re-index) sends it back to the queue.
create function app.knowledge_document_changed() returns trigger
language plpgsql set search_path = '' as $$
begin
    if (new.content, new.faq, new.source_url, new.language, new.index_requested_at)
        is distinct from (old.content, old.faq, old.source_url, old.language, old.index_requested_at) then
        new.status := 'pending';
        new.problem := null;
    end if;
    return new;
end
$$;
create trigger knowledge_documents_changed before update on public.knowledge_documents
    for each row execute function app.knowledge_document_changed();

grant insert (kind, faq, language) on public.knowledge_documents to authenticated;
grant update (faq, language, index_requested_at) on public.knowledge_documents to authenticated;

drop index public.knowledge_chunks_embedding_idx;
alter table public.knowledge_chunks drop constraint knowledge_chunks_document_chunk_key;
alter table public.knowledge_chunks
    alter column embedding type extensions.vector,
    add column version integer not null default 1 constraint knowledge_chunks_version_check check (version >= 1),
    add column heading_path text not null default '',
    add column search_config regconfig not null default 'portuguese',
    -- to_tsvector(search_config, heading_path || ' ' || content), written with the chunk by the worker
    -- (stored, not recomputed per query; a plain column because generated ones refuse `set col = col`).
    add column fts tsvector not null default ''::tsvector,
    add constraint knowledge_chunks_document_version_chunk_key unique (document_id, version, chunk_index);

create index knowledge_chunks_fts_idx on public.knowledge_chunks using gin (fts);
create index knowledge_chunks_embedding_384_idx on public.knowledge_chunks
    using hnsw ((embedding::extensions.vector(384)) extensions.vector_cosine_ops) where extensions.vector_dims(embedding) = 384;
create index knowledge_chunks_embedding_768_idx on public.knowledge_chunks
    using hnsw ((embedding::extensions.vector(768)) extensions.vector_cosine_ops) where extensions.vector_dims(embedding) = 768;
create index knowledge_chunks_embedding_1536_idx on public.knowledge_chunks
    using hnsw ((embedding::extensions.vector(1536)) extensions.vector_cosine_ops) where extensions.vector_dims(embedding) = 1536;
