-- Knowledge base for retrieval: documents and their embedded chunks (pgvector, HNSW, cosine).

create extension if not exists vector with schema extensions;

create table public.knowledge_documents (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    agent_id uuid,
    title text not null constraint knowledge_documents_title_check check (length(btrim(title)) between 1 and 300),
    source_url text,
    content text not null default '',
    status text not null default 'pending'
        constraint knowledge_documents_status_check check (status in ('pending', 'ready', 'failed')),
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint knowledge_documents_id_organization_key unique (id, organization_id),
    constraint knowledge_documents_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete cascade
);
create index knowledge_documents_organization_id_idx on public.knowledge_documents (organization_id);
create index knowledge_documents_agent_id_idx on public.knowledge_documents (agent_id);
create trigger knowledge_documents_touch before update on public.knowledge_documents
    for each row execute function app.touch_updated_at();

create table public.knowledge_chunks (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    document_id uuid not null,
    chunk_index integer not null constraint knowledge_chunks_chunk_index_check check (chunk_index >= 0),
    content text not null,
    token_count integer not null default 0,
    embedding extensions.vector(1536),
    created_at timestamptz not null default now(),
    constraint knowledge_chunks_document_chunk_key unique (document_id, chunk_index),
    constraint knowledge_chunks_document_fkey foreign key (document_id, organization_id)
        references public.knowledge_documents (id, organization_id) on delete cascade
);
create index knowledge_chunks_organization_id_idx on public.knowledge_chunks (organization_id);
create index knowledge_chunks_embedding_idx on public.knowledge_chunks
    using hnsw (embedding extensions.vector_cosine_ops);

alter table public.knowledge_documents enable row level security;
alter table public.knowledge_chunks enable row level security;

create policy "members read documents" on public.knowledge_documents
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors add documents" on public.knowledge_documents
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "editors update documents" on public.knowledge_documents
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('editor')))
    with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "editors delete documents" on public.knowledge_documents
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('editor')));

create policy "members read chunks" on public.knowledge_chunks
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors add chunks" on public.knowledge_chunks
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "editors update chunks" on public.knowledge_chunks
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('editor')))
    with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "editors delete chunks" on public.knowledge_chunks
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('editor')));

revoke all on public.knowledge_documents, public.knowledge_chunks from anon;
