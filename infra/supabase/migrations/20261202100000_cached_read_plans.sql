-- Reads by id as PL/pgSQL functions, so Postgres keeps their plans for the session.
--
-- A simple-protocol read (the one-trip script of shared/db/session.py) is parsed, rewritten with its RLS
-- policies and planned on every request: for getConversation that was about half of the server's time.
-- A PL/pgSQL function's statements are planned once per backend and their plans kept (the generic plan,
-- once it is no dearer than the custom ones), which is safe behind a transaction-mode pooler, unlike
-- prepared statements: nothing a client names outlives the transaction. Each runs as its caller
-- (security invoker, the default), so RLS decides what it returns exactly as the inline statement did;
-- a by-id lookup has the same plan whatever the id, so the kept plan costs nothing in quality.
-- No `set search_path` (it would cost a configuration change per call): every name is schema-qualified.

-- The agent with its configuration `p_version` (null: the current one); the read of getAgent and updateAgent.
create function app.read_agent(p_id uuid, p_version integer)
returns table (agent public.agents, version integer, config jsonb, has_version boolean)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select a, coalesce(v.version, a.current_version), coalesce(v.config, '{}'::jsonb), v.id is not null
    from public.agents a
    left join public.agent_versions v on v.agent_id = a.id and v.version = coalesce(p_version, a.current_version)
    where a.id = p_id;
end
$$;

-- The conversation, its lead and a page of its messages after (p_after_t, p_after_id), p_fetch at most.
create function app.read_conversation(p_id uuid, p_fetch integer, p_after_t timestamptz, p_after_id uuid)
returns table (conversation public.conversations, lead jsonb, messages_page jsonb)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select c, to_jsonb(l),
           (select coalesce(jsonb_agg(to_jsonb(m) order by m.created_at, m.id), '[]'::jsonb)
            from (
                select m.* from public.messages m
                where m.conversation_id = c.id
                  -- the first page (no cursor) starts before every row: one index condition either way
                  and (m.created_at, m.id) > (coalesce(p_after_t, '-infinity'),
                                              coalesce(p_after_id, '00000000-0000-0000-0000-000000000000'))
                order by m.created_at, m.id
                limit p_fetch
            ) m)
    from public.conversations c join public.leads l on l.id = c.lead_id
    where c.id = p_id;
end
$$;

revoke all on function app.read_agent(uuid, integer), app.read_conversation(uuid, integer, timestamptz, uuid)
    from public;
grant execute on function app.read_agent(uuid, integer), app.read_conversation(uuid, integer, timestamptz, uuid)
    to authenticated, service_role;
