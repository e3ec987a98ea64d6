-- Knowledge (issue 12): uploaded files in Supabase Storage, and sources attached to several agents.
--
-- 1. A source of kind 'file' names its object in the private 'knowledge' bucket:
--    <organization id>/<source id>/<file name>. Its path is set on insert, so nobody can point a source at
--    another tenant's object. The ingestion worker downloads it with the Storage client (service role).
-- 2. Storage RLS on storage.objects, keyed on the first path segment (the organization) and the caller's
--    membership, as Supabase documents: members read, editors upload (only to a file source of their
--    organization that they can see), replace and delete.
--    On plain Postgres (local runs, tests) there is no storage schema: a minimal stand-in with Supabase's
--    storage.buckets / storage.objects columns and storage.foldername() is created first, so the same
--    policies apply locally (the local Storage stand-in, local_runtime/storage.py, writes through them).
-- 3. knowledge_source_agents: the agents that read a source (none: every agent of the organization).
--    agent_id stays for compatibility: setting it attaches that agent (trigger).
-- 4. Retrieval speed: the full-text leg searches one organization's chunks through a GIN index over
--    (organization_id, fts) (btree_gin), instead of intersecting the whole table's matches with a bitmap of
--    the organization's 100k rows (or scanning the table in order until 300 matches turn up).
--    Under a member's claims `fts @@ query` may not drive an index (the operator is not leakproof and only a
--    superuser can declare it so), so the matches come from app.knowledge_text_matches: security definer,
--    it answers only a member of the organization (or the service role) and is planned with the index.

-- 1. File sources -------------------------------------------------------------------------------------
alter table public.knowledge_documents drop constraint knowledge_documents_kind_check;
alter table public.knowledge_documents add constraint knowledge_documents_kind_check
    check (kind in ('text', 'faq', 'url', 'file'));
alter table public.knowledge_documents
    add column file_name text
        constraint knowledge_documents_file_name_check
        check (file_name is null or (file_name ~ '^[A-Za-z0-9._ -]{1,200}$' and file_name !~ '^\.')),
    add column media_type text,
    add column byte_size bigint constraint knowledge_documents_byte_size_check check (byte_size is null or byte_size > 0),
    -- set on insert (trigger below), never written by people: a plain column, as generated ones refuse `set col = col`
    add column storage_path text;
alter table public.knowledge_documents drop constraint knowledge_documents_kind_fields_check;
alter table public.knowledge_documents add constraint knowledge_documents_kind_fields_check check (
    (kind = 'url' and source_url is not null) or (kind = 'faq' and faq is not null) or kind = 'text'
    or (kind = 'file' and file_name is not null and media_type is not null and byte_size is not null)
);
create function app.knowledge_document_storage_path() returns trigger
language plpgsql set search_path = '' as $$
begin
    new.storage_path := case when new.kind = 'file'
                             then new.organization_id::text || '/' || new.id::text || '/' || new.file_name end;
    return new;
end
$$;
create trigger knowledge_documents_storage_path before insert on public.knowledge_documents
    for each row execute function app.knowledge_document_storage_path();
create unique index knowledge_documents_storage_path_key on public.knowledge_documents (storage_path)
    where storage_path is not null;
grant insert (file_name, media_type, byte_size) on public.knowledge_documents to authenticated;

-- 2. Storage: the stand-in where there is no Supabase Storage, the bucket, the policies ---------------
do $$
begin
    if to_regclass('storage.objects') is null then
        create schema if not exists storage;
        create table storage.buckets (
            id text primary key,
            name text not null unique,
            owner uuid,
            owner_id text,
            public boolean default false,
            avif_autodetection boolean default false,
            file_size_limit bigint,
            allowed_mime_types text[],
            created_at timestamptz default now(),
            updated_at timestamptz default now()
        );
        create table storage.objects (
            id uuid primary key default gen_random_uuid(),
            bucket_id text references storage.buckets (id),
            name text,
            owner uuid,
            owner_id text,
            created_at timestamptz default now(),
            updated_at timestamptz default now(),
            last_accessed_at timestamptz default now(),
            metadata jsonb,
            path_tokens text[] generated always as (string_to_array(name, '/')) stored,
            version text,
            user_metadata jsonb,
            constraint objects_bucket_name_key unique (bucket_id, name)
        );
        alter table storage.objects enable row level security;
        alter table storage.buckets enable row level security;
        create policy "buckets are listed" on storage.buckets for select to authenticated using (true);
        grant usage on schema storage to authenticated, anon, service_role;
        grant select on storage.buckets to authenticated, service_role;
        grant select, insert, update, delete on storage.objects to authenticated, service_role;
        grant insert, update, delete on storage.buckets to service_role;
    end if;
    if to_regprocedure('storage.foldername(text)') is null then
        create function storage.foldername(name text) returns text[]
        language sql immutable as 'select (string_to_array(name, ''/''))[1:array_length(string_to_array(name, ''/''), 1) - 1]';
        grant execute on function storage.foldername(text) to authenticated, anon, service_role;
    end if;
end
$$;

-- 20 MiB per file; the types the extractors read (shared/knowledge/extraction.py). The API checks the
-- same limits first (413, 415); the bucket enforces them on the upload itself.
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('knowledge', 'knowledge', false, 20971520, array[
    'application/pdf', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    'text/plain', 'text/markdown', 'text/html'
])
on conflict (id) do nothing;

create policy "knowledge files: members read" on storage.objects
    for select to authenticated
    using (bucket_id = 'knowledge' and (storage.foldername(name))[1] in (select o::text from app.my_org_ids() o));
create policy "knowledge files: editors upload to their file sources" on storage.objects
    for insert to authenticated
    with check (
        bucket_id = 'knowledge'
        and (storage.foldername(name))[1] in (select o::text from app.my_org_ids_with_role('editor') o)
        and exists (select 1 from public.knowledge_documents d where d.storage_path = name)
    );
create policy "knowledge files: editors replace" on storage.objects
    for update to authenticated
    using (bucket_id = 'knowledge' and (storage.foldername(name))[1] in (select o::text from app.my_org_ids_with_role('editor') o))
    with check (
        bucket_id = 'knowledge'
        and (storage.foldername(name))[1] in (select o::text from app.my_org_ids_with_role('editor') o)
        and exists (select 1 from public.knowledge_documents d where d.storage_path = name)
    );
create policy "knowledge files: editors delete" on storage.objects
    for delete to authenticated
    using (bucket_id = 'knowledge' and (storage.foldername(name))[1] in (select o::text from app.my_org_ids_with_role('editor') o));

-- 3. The agents that read a source ----------------------------------------------------------------------
create table public.knowledge_source_agents (
    organization_id uuid not null references public.organizations (id) on delete cascade,
    document_id uuid not null,
    agent_id uuid not null,
    created_at timestamptz not null default now(),
    primary key (document_id, agent_id),
    constraint knowledge_source_agents_document_fkey foreign key (document_id, organization_id)
        references public.knowledge_documents (id, organization_id) on delete cascade,
    constraint knowledge_source_agents_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete cascade
);
create index knowledge_source_agents_organization_id_idx on public.knowledge_source_agents (organization_id);
create index knowledge_source_agents_agent_idx on public.knowledge_source_agents (agent_id, organization_id);
alter table public.knowledge_source_agents enable row level security;
create policy "members read source agents" on public.knowledge_source_agents
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors attach agents" on public.knowledge_source_agents
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "editors detach agents" on public.knowledge_source_agents
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('editor')));
revoke all on public.knowledge_source_agents from anon, authenticated;
grant select, delete on public.knowledge_source_agents to authenticated;
grant insert (organization_id, document_id, agent_id) on public.knowledge_source_agents to authenticated;
grant select, insert, delete on public.knowledge_source_agents to service_role;

insert into public.knowledge_source_agents (organization_id, document_id, agent_id)
select d.organization_id, d.id, d.agent_id from public.knowledge_documents d where d.agent_id is not null
on conflict do nothing;

-- Setting agent_id (the one-agent form of the API) attaches that agent; changing it moves the link.
-- Runs with the writer's rights: the same editors who may set agent_id may attach agents.
create function app.knowledge_document_agent_link() returns trigger
language plpgsql set search_path = '' as $$
begin
    if tg_op = 'UPDATE' and old.agent_id is not null and old.agent_id is distinct from new.agent_id then
        delete from public.knowledge_source_agents l where l.document_id = new.id and l.agent_id = old.agent_id;
    end if;
    if new.agent_id is not null and (tg_op = 'INSERT' or old.agent_id is distinct from new.agent_id) then
        insert into public.knowledge_source_agents (organization_id, document_id, agent_id)
        values (new.organization_id, new.id, new.agent_id)
        on conflict do nothing;
    end if;
    return null;
end
$$;
create trigger knowledge_documents_agent_link after insert or update of agent_id on public.knowledge_documents
    for each row execute function app.knowledge_document_agent_link();

-- 4. The full-text leg's index: one organization's matches only.
create extension if not exists btree_gin with schema extensions;
drop index public.knowledge_chunks_fts_idx;
create index knowledge_chunks_organization_fts_idx on public.knowledge_chunks
    using gin (organization_id, fts);

create function app.knowledge_text_matches(p_organization_id uuid, p_query tsquery, p_limit integer)
returns table (id uuid, fts tsvector)
language sql stable security definer set search_path = '' as $$
    select c.id, c.fts
    from public.knowledge_chunks c
    where c.organization_id = p_organization_id and c.fts @@ p_query
      and ((select auth.role()) = 'service_role' or p_organization_id in (select app.my_org_ids()))
    limit p_limit
$$;
revoke all on function app.knowledge_text_matches(uuid, tsquery, integer) from public;
grant execute on function app.knowledge_text_matches(uuid, tsquery, integer) to authenticated, service_role;
