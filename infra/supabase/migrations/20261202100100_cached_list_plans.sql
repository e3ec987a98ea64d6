-- The agents and conversations lists as PL/pgSQL functions, so their plans are kept per backend
-- (see 20261202100000_cached_read_plans.sql for why, and why this is safe behind a transaction-mode pooler).
--
-- A kept (generic) plan is the same for every parameter value, so nothing in it may depend on a value being
-- null: the first page compares with a position before every row instead of skipping the comparison, so the
-- keyset condition is an index condition on every page; and each combination of filters is a statement of
-- its own, planned with the index that leads with it (20261130300000_leakproof_list_filters.sql), where a
-- `p is null or column = p` condition would be a filter over the whole organization.
-- The steps that pick a page say they return a page's worth of rows (`rows 20`, not the default 1,000), and a
-- page's lead or configuration is a lookup by id per row (a subquery, not a join): on a small table the
-- planner would rather hash-join a scan of every lead, each checked against RLS. Each runs as its caller: RLS decides, as in the inline statements.

-- Agents of the organization newest first after (p_after_t, p_after_id), p_fetch at most, archived ones with
-- p_archived. A step of app.list_agents.
create function app.agents_page(
    p_organization_id uuid, p_archived boolean, p_after_t timestamptz, p_after_id uuid, p_fetch integer
)
returns setof public.agents
language plpgsql stable rows 20 as $$
begin
    if p_archived then
        return query
        select x.* from public.agents x
        where x.organization_id = p_organization_id
          and (x.created_at, x.id) < (coalesce(p_after_t, 'infinity'),
                                      coalesce(p_after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
        order by x.created_at desc, x.id desc
        limit p_fetch;
    else
        return query
        select x.* from public.agents x
        where x.organization_id = p_organization_id and x.status = 'active'
          and (x.created_at, x.id) < (coalesce(p_after_t, 'infinity'),
                                      coalesce(p_after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
        order by x.created_at desc, x.id desc
        limit p_fetch;
    end if;
end
$$;

-- A page of the organization's agents, newest first: p_limit + 1 rows (one more, to know whether more follow),
-- archived ones only with p_archived. No row: the organization is not visible; one row with a null agent: no agents.
create function app.list_agents(
    p_organization_id uuid, p_archived boolean, p_after_t timestamptz, p_after_id uuid, p_limit integer
)
returns table (agent public.agents, config jsonb)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select a, coalesce((select v.config from public.agent_versions v
                        where v.agent_id = a.id and v.version = a.current_version), '{}'::jsonb)
    from public.organizations o
    left join lateral app.agents_page(o.id, p_archived, p_after_t, p_after_id, p_limit + 1) a on true
    where o.id = p_organization_id
    order by a.created_at desc, a.id desc;
end
$$;

-- Conversations of the organization newest first after (p_after_t, p_after_id), p_fetch at most, in status
-- p_status and of agent p_agent_id when given. A step of app.list_conversations.
create function app.conversations_page(
    p_organization_id uuid, p_status text, p_agent_id uuid, p_fetch integer, p_after_t timestamptz, p_after_id uuid
)
returns setof public.conversations
language plpgsql stable rows 20 as $$
declare
    v_after_t timestamptz := coalesce(p_after_t, 'infinity');
    v_after_id uuid := coalesce(p_after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
begin
    if p_agent_id is null and p_status is null then
        return query
        select x.* from public.conversations x
        where x.organization_id = p_organization_id and (x.created_at, x.id) < (v_after_t, v_after_id)
        order by x.created_at desc, x.id desc limit p_fetch;
    elsif p_agent_id is null then
        return query
        select x.* from public.conversations x
        where x.organization_id = p_organization_id and x.status = p_status
          and (x.created_at, x.id) < (v_after_t, v_after_id)
        order by x.created_at desc, x.id desc limit p_fetch;
    elsif p_status is null then
        return query
        select x.* from public.conversations x
        where x.organization_id = p_organization_id and x.agent_id = p_agent_id
          and (x.created_at, x.id) < (v_after_t, v_after_id)
        order by x.created_at desc, x.id desc limit p_fetch;
    else
        return query
        select x.* from public.conversations x
        where x.organization_id = p_organization_id and x.agent_id = p_agent_id and x.status = p_status
          and (x.created_at, x.id) < (v_after_t, v_after_id)
        order by x.created_at desc, x.id desc limit p_fetch;
    end if;
end
$$;

-- A page of the organization's conversations, newest first (p_fetch rows at most), with their leads.
-- Rows as app.list_agents: none when the organization is not visible, one with a null conversation when it has none.
create function app.list_conversations(
    p_organization_id uuid, p_status text, p_agent_id uuid, p_fetch integer, p_after_t timestamptz, p_after_id uuid
)
returns table (conversation public.conversations, lead jsonb)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select c, (select to_jsonb(l) from public.leads l where l.id = c.lead_id)
    from public.organizations o
    left join lateral app.conversations_page(o.id, p_status, p_agent_id, p_fetch, p_after_t, p_after_id) c on true
    where o.id = p_organization_id
    order by c.created_at desc, c.id desc;
end
$$;

revoke all on function app.agents_page(uuid, boolean, timestamptz, uuid, integer),
    app.list_agents(uuid, boolean, timestamptz, uuid, integer),
    app.conversations_page(uuid, text, uuid, integer, timestamptz, uuid),
    app.list_conversations(uuid, text, uuid, integer, timestamptz, uuid) from public;
grant execute on function app.agents_page(uuid, boolean, timestamptz, uuid, integer),
    app.list_agents(uuid, boolean, timestamptz, uuid, integer),
    app.conversations_page(uuid, text, uuid, integer, timestamptz, uuid),
    app.list_conversations(uuid, text, uuid, integer, timestamptz, uuid) to authenticated, service_role;
