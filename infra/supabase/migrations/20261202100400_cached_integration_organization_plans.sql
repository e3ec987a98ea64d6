-- The integrations and organizations lists as PL/pgSQL functions, so their plans are kept per backend
-- (see 20261202100000_cached_read_plans.sql for why, and why this is safe behind a transaction-mode pooler;
-- 20261202100100_cached_list_plans.sql for why each filter is a statement of its own and the keyset
-- condition compares with a position before every row). Each runs as its caller: RLS decides.

-- Integrations of the organization newest first after (p_after_t, p_after_id), p_fetch at most, of kind
-- p_kind when given. A step of app.list_integrations.
create function app.integrations_page(
    p_organization_id uuid, p_kind text, p_after_t timestamptz, p_after_id uuid, p_fetch integer
)
returns setof public.integrations
language plpgsql stable rows 20 as $$
declare
    v_after_t timestamptz := coalesce(p_after_t, 'infinity');
    v_after_id uuid := coalesce(p_after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
begin
    if p_kind is null then
        return query
        select x.* from public.integrations x
        where x.organization_id = p_organization_id and (x.created_at, x.id) < (v_after_t, v_after_id)
        order by x.created_at desc, x.id desc limit p_fetch;
    else
        return query
        select x.* from public.integrations x
        where x.organization_id = p_organization_id and x.kind = p_kind
          and (x.created_at, x.id) < (v_after_t, v_after_id)
        order by x.created_at desc, x.id desc limit p_fetch;
    end if;
end
$$;

-- A page of the organization's integrations, newest first: p_limit + 1 rows (one more, to know whether more
-- follow). No row: the organization is not visible; one row with a null id: it has none.
create function app.list_integrations(
    p_organization_id uuid, p_kind text, p_after_t timestamptz, p_after_id uuid, p_limit integer
)
returns table (
    id uuid, organization_id uuid, kind text, name text, agent_id uuid, external_id text, config jsonb,
    enabled boolean, has_credentials boolean, created_at timestamptz, updated_at timestamptz
)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select i.id, i.organization_id, i.kind::text, i.name, i.agent_id, i.external_id, i.config, i.enabled,
           i.secret_id is not null, i.created_at, i.updated_at
    from public.organizations o
    left join lateral app.integrations_page(o.id, p_kind, p_after_t, p_after_id, p_limit + 1) i on true
    where o.id = p_organization_id
    order by i.created_at desc, i.id desc;
end
$$;

-- The caller's organizations with their role in each, oldest first (listOrganizations).
create function app.list_my_organizations()
returns table (id uuid, name text, slug text, created_at timestamptz, role public.member_role)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select o.id, o.name, o.slug, o.created_at, m.role
    from public.organizations o
    join public.memberships m on m.organization_id = o.id and m.user_id = (select auth.uid())
    order by o.created_at, o.id;
end
$$;

revoke all on function app.integrations_page(uuid, text, timestamptz, uuid, integer),
    app.list_integrations(uuid, text, timestamptz, uuid, integer), app.list_my_organizations() from public;
grant execute on function app.integrations_page(uuid, text, timestamptz, uuid, integer),
    app.list_integrations(uuid, text, timestamptz, uuid, integer), app.list_my_organizations()
    to authenticated, service_role;
