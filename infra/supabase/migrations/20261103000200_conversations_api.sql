-- The conversations API: widget visitor tokens, idempotency keys, lead upserts and the indexes
-- its cursor pagination and requeue cron read.

-- The public widget proves it owns a conversation with a random token shown once; only its
-- SHA-256 is kept (an org member who can read the row still cannot recover the token).
alter table public.conversations
    add column visitor_token_hash bytea
        constraint conversations_visitor_token_hash_check check (octet_length(visitor_token_hash) = 32);
comment on column public.conversations.visitor_token_hash is 'SHA-256 of the web widget visitor token; null outside the widget.';

-- Cursor pagination walks (created_at, id); scanned backwards for newest-first listings.
create index conversations_organization_created_idx on public.conversations (organization_id, created_at, id);
create index conversations_organization_status_created_idx
    on public.conversations (organization_id, status, created_at, id);
create index conversations_agent_created_idx on public.conversations (agent_id, created_at, id);
-- The requeue cron: lead messages stored but never queued (the enqueue failed).
create index messages_received_idx on public.messages (created_at)
    where role = 'lead' and status = 'received' and handled_at is null;

-- Idempotency-Key: the first response to a POST, stored in the same transaction as the change it made.
create table public.idempotency_keys (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    user_id uuid references auth.users (id) on delete cascade,
    scope text not null
        constraint idempotency_keys_scope_check check (scope ~ '^(user|agent|conversation):[0-9a-f-]{36}$'),
    key text not null constraint idempotency_keys_key_check check (length(key) between 1 and 255),
    request_hash text not null constraint idempotency_keys_request_hash_check check (request_hash ~ '^[0-9a-f]{64}$'),
    response_status integer not null
        constraint idempotency_keys_response_status_check check (response_status between 200 and 299),
    response_body jsonb not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null default now() + interval '24 hours',
    constraint idempotency_keys_scope_key_key unique (scope, key)
);
create index idempotency_keys_organization_id_idx on public.idempotency_keys (organization_id);
create index idempotency_keys_user_id_idx on public.idempotency_keys (user_id);
create index idempotency_keys_expires_at_idx on public.idempotency_keys (expires_at);
comment on table public.idempotency_keys is
    'Written only through app.claim_idempotency_key / app.save_idempotency_key; expired rows are purged by a cron.';

alter table public.idempotency_keys enable row level security;
create policy "users read their own idempotency keys" on public.idempotency_keys
    for select to authenticated using (user_id = (select auth.uid()));
revoke insert, update, delete on public.idempotency_keys from authenticated;
revoke all on public.idempotency_keys from anon;

-- Whose keys these are: a signed-in caller's own, whatever they pass; the service path (the public
-- widget) names the agent or conversation the visitor proved it may use. Null means nobody's.
create function app.idempotency_scope(p_scope text) returns text
language sql stable set search_path = '' as $$
    select case
        when (select auth.uid()) is not null then 'user:' || (select auth.uid())::text
        when (select auth.role()) = 'service_role' then p_scope
    end
$$;

-- Claim a key for this transaction. SECURITY DEFINER because callers may not write the table directly;
-- the scope is derived above, so nobody can read another caller's stored responses.
-- Returns {state: new | replay | mismatch | busy, status?, body?}.
create function app.claim_idempotency_key(p_key text, p_request_hash text, p_scope text default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
    v_scope text := app.idempotency_scope(p_scope);
    v_row public.idempotency_keys;
begin
    if v_scope is null then
        raise exception 'no idempotency scope for this caller' using errcode = '42501';
    end if;
    -- Held until commit: a concurrent duplicate is told it is in flight instead of waiting for it.
    if not pg_try_advisory_xact_lock(hashtextextended(v_scope || ' ' || p_key, 7220017)) then
        return jsonb_build_object('state', 'busy');
    end if;
    select * into v_row from public.idempotency_keys k
    where k.scope = v_scope and k.key = p_key and k.expires_at > now();
    if v_row.id is null then
        return jsonb_build_object('state', 'new');
    end if;
    if v_row.request_hash <> p_request_hash then
        return jsonb_build_object('state', 'mismatch');
    end if;
    return jsonb_build_object('state', 'replay', 'status', v_row.response_status, 'body', v_row.response_body);
end
$$;

-- Store (or, for a later step of the same request, update) the response to a claimed key.
create function app.save_idempotency_key(
    p_key text, p_request_hash text, p_organization_id uuid, p_status integer, p_body jsonb, p_scope text default null
) returns void
language plpgsql security definer set search_path = '' as $$
declare
    v_scope text := app.idempotency_scope(p_scope);
begin
    if v_scope is null then
        raise exception 'no idempotency scope for this caller' using errcode = '42501';
    end if;
    if (select auth.uid()) is not null and p_organization_id not in (select app.my_org_ids()) then
        raise exception 'not a member of this organization' using errcode = '42501';
    end if;
    insert into public.idempotency_keys as k
        (organization_id, user_id, scope, key, request_hash, response_status, response_body)
    values (p_organization_id, (select auth.uid()), v_scope, p_key, p_request_hash, p_status, p_body)
    on conflict (scope, key) do update set
        organization_id = excluded.organization_id,
        request_hash = excluded.request_hash,
        response_status = excluded.response_status,
        response_body = excluded.response_body,
        created_at = case when k.expires_at <= now() then now() else k.created_at end,
        expires_at = case when k.expires_at <= now() then excluded.expires_at else k.expires_at end
    where k.request_hash = excluded.request_hash or k.expires_at <= now();
end
$$;

-- Drop keys past their 24 hours (a cron calls this); returns how many were removed.
create function app.purge_idempotency_keys() returns integer
language sql set search_path = '' as $$
    with gone as (delete from public.idempotency_keys k where k.expires_at <= now() returning 1)
    select count(*)::integer from gone
$$;

-- One lead per person per organization: match a normalised e-mail first, then a phone, and fill in
-- what the match lacks; otherwise insert (and log lead.created). SECURITY INVOKER, so RLS decides.
create function app.upsert_lead(
    p_organization_id uuid, p_name text, p_email text, p_phone text, p_source public.channel
) returns public.leads
language plpgsql set search_path = '' as $$
declare
    v_lead public.leads;
begin
    if p_email is not null or p_phone is not null then
        select * into v_lead from public.leads l
        where l.organization_id = p_organization_id and (l.email = p_email or l.phone = p_phone)
        order by (l.email is not distinct from p_email) desc, l.created_at
        limit 1
        for update;
    end if;
    if v_lead.id is null then
        insert into public.leads (organization_id, name, email, phone, source)
        values (p_organization_id, p_name, p_email, p_phone, p_source)
        on conflict do nothing
        returning * into v_lead;
        if v_lead.id is null then  -- a concurrent request inserted this person first
            return app.upsert_lead(p_organization_id, p_name, p_email, p_phone, p_source);
        end if;
        insert into public.lead_events (organization_id, lead_id, type, to_stage, actor)
        values (p_organization_id, v_lead.id, 'lead.created', 'new', coalesce(p_source::text, 'api'));
        return v_lead;
    end if;
    update public.leads l set
        name = coalesce(l.name, p_name),
        email = coalesce(l.email, case when not exists (
            select 1 from public.leads o where o.organization_id = p_organization_id and o.email = p_email
        ) then p_email end),
        phone = coalesce(l.phone, case when not exists (
            select 1 from public.leads o where o.organization_id = p_organization_id and o.phone = p_phone
        ) then p_phone end)
    where l.id = v_lead.id
    returning * into v_lead;
    return v_lead;
end
$$;

revoke all on function app.idempotency_scope(text), app.claim_idempotency_key(text, text, text),
    app.save_idempotency_key(text, text, uuid, integer, jsonb, text), app.purge_idempotency_keys(),
    app.upsert_lead(uuid, text, text, text, public.channel)
    from public;
grant execute on function app.idempotency_scope(text), app.claim_idempotency_key(text, text, text),
    app.save_idempotency_key(text, text, uuid, integer, jsonb, text),
    app.upsert_lead(uuid, text, text, text, public.channel)
    to authenticated, service_role;
grant execute on function app.purge_idempotency_keys() to service_role;
