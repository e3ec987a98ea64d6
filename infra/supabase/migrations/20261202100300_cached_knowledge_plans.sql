-- The knowledge source reads as PL/pgSQL functions, so their plans are kept per backend
-- (see 20261202100000_cached_read_plans.sql for why, and why this is safe behind a transaction-mode pooler;
-- 20261202100100_cached_list_plans.sql for the keyset condition a kept plan can use on every page).
-- Each runs as its caller: RLS decides, as in the inline statements they replace.

-- A source as the API shows it: every column but its content and FAQ, and the agents that read it.
create type app.knowledge_source as (
    id uuid, organization_id uuid, agent_id uuid, kind text, title text, url text, language text, status text,
    problem text, version integer, content_hash text, chunk_count integer, embedding_model text,
    indexed_at timestamptz, created_at timestamptz, updated_at timestamptz, index_requested_at timestamptz,
    file_name text, media_type text, size bigint, storage_path text, agent_ids uuid[]
);

-- The source `p_id` (getKnowledgeSource, and the read-back after a create).
create function app.read_knowledge_source(p_id uuid)
returns setof app.knowledge_source
language plpgsql stable rows 1 as $$
begin
    return query
    select d.id, d.organization_id, d.agent_id, d.kind, d.title, d.source_url, d.language, d.status, d.problem,
           d.version, d.content_hash, d.chunk_count, d.embedding_model, d.indexed_at, d.created_at, d.updated_at,
           d.index_requested_at, d.file_name, d.media_type, d.byte_size, d.storage_path,
           array(select l.agent_id from public.knowledge_source_agents l where l.document_id = d.id order by l.agent_id)
    from public.knowledge_documents d
    where d.id = p_id;
end
$$;

-- A page of the organization's sources, newest first after (p_after_t, p_after_id): p_limit + 1 rows (one more,
-- to know whether more follow). No row: the organization is not visible; one row with a null id: it has none.
create function app.list_knowledge_sources(
    p_organization_id uuid, p_after_t timestamptz, p_after_id uuid, p_limit integer
)
returns setof app.knowledge_source
language plpgsql stable rows 20 as $$
begin
    return query
    select d.id, d.organization_id, d.agent_id, d.kind, d.title, d.source_url, d.language, d.status, d.problem,
           d.version, d.content_hash, d.chunk_count, d.embedding_model, d.indexed_at, d.created_at, d.updated_at,
           d.index_requested_at, d.file_name, d.media_type, d.byte_size, d.storage_path,
           array(select l.agent_id from public.knowledge_source_agents l where l.document_id = d.id order by l.agent_id)
    from public.organizations o
    left join lateral (
        select x.* from public.knowledge_documents x
        where x.organization_id = o.id
          and (x.created_at, x.id) < (coalesce(p_after_t, 'infinity'),
                                      coalesce(p_after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
        order by x.created_at desc, x.id desc
        limit p_limit + 1
    ) d on true
    where o.id = p_organization_id
    order by d.created_at desc, d.id desc;
end
$$;

revoke all on function app.read_knowledge_source(uuid), app.list_knowledge_sources(uuid, timestamptz, uuid, integer)
    from public;
grant execute on function app.read_knowledge_source(uuid),
    app.list_knowledge_sources(uuid, timestamptz, uuid, integer) to authenticated, service_role;
