-- The webhook reads as PL/pgSQL functions, so their plans are kept per backend
-- (see 20261202100000_cached_read_plans.sql for why, and why this is safe behind a transaction-mode pooler;
-- 20261202100100_cached_list_plans.sql for the keyset condition a kept plan can use on every page).
-- Each runs as its caller: RLS (and the column privileges that keep secrets out of reach) decides.

-- The organization's endpoints, oldest first (listWebhookEndpoints). No row: the organization is not
-- visible; one row with a null id: it has none. A previous secret shows its expiry only while it is valid.
create function app.list_webhook_endpoints(p_organization_id uuid)
returns table (
    id uuid, organization_id uuid, url text, description text, events text[], enabled boolean,
    previous_secret_expires_at timestamptz, created_at timestamptz, updated_at timestamptz
)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select e.id, o.id, e.url, e.description, e.events::text[], e.enabled,
           case when e.previous_secret_expires_at > now() then e.previous_secret_expires_at end,
           e.created_at, e.updated_at
    from public.organizations o
    left join public.webhook_endpoints e on e.organization_id = o.id
    where o.id = p_organization_id
    order by e.created_at, e.id;
end
$$;

-- A page of the endpoint's delivery attempts, newest first after (p_after_t, p_after_id): p_limit + 1 rows (one
-- more, to know whether more follow). No row: the endpoint is not visible; one row with a null id: none yet.
create function app.list_webhook_deliveries(p_endpoint_id uuid, p_after_t timestamptz, p_after_id uuid, p_limit integer)
returns table (
    organization_id uuid, id uuid, event_id uuid, event_type text, attempt integer, status text,
    response_status integer, response_body text, error text, duration_ms integer, next_attempt_at timestamptz,
    created_at timestamptz, completed_at timestamptz
)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select e.organization_id, d.id, d.event_id, d.event_type::text, d.attempt, d.status, d.response_status,
           d.response_body, d.error, d.duration_ms, d.next_attempt_at, d.created_at, d.completed_at
    from public.webhook_endpoints e
    left join lateral (
        select x.* from public.webhook_deliveries x
        where x.endpoint_id = e.id
          and (x.created_at, x.id) < (coalesce(p_after_t, 'infinity'),
                                      coalesce(p_after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
        order by x.created_at desc, x.id desc
        limit p_limit + 1
    ) d on true
    where e.id = p_endpoint_id
    order by d.created_at desc, d.id desc;
end
$$;

revoke all on function app.list_webhook_endpoints(uuid),
    app.list_webhook_deliveries(uuid, timestamptz, uuid, integer) from public;
grant execute on function app.list_webhook_endpoints(uuid),
    app.list_webhook_deliveries(uuid, timestamptz, uuid, integer) to authenticated, service_role;
