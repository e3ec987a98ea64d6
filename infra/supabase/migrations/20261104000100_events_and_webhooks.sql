-- Domain events, developer webhooks, and integration secrets kept in Supabase Vault.
--
-- The outbox: whatever changes the domain calls app.emit_event() in the same transaction, so an
-- event exists exactly when its change committed. A cron (functions/crons/dispatch_events) moves
-- new rows to SQS, one message per subscriber delivery; a worker delivers them.
-- Secrets live in Vault and are referenced by id. The API roles never touch the vault: the service
-- path goes through app.store_secret / app.read_secrets, and endpoint secrets through
-- app.new_webhook_secret, which checks the caller is an admin first.

-- The event catalog; shared/events/catalog.py lists the same values (a test compares them).
create type public.event_type as enum (
    'message.created', 'lead.updated', 'lead.qualified', 'handoff.requested', 'conversion.created',
    'conversation.closed'
);

create table public.event_outbox (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    type public.event_type not null,
    payload jsonb not null default '{}'::jsonb
        constraint event_outbox_payload_check check (jsonb_typeof(payload) = 'object'),
    -- clock_timestamp: events emitted by one transaction keep the order they were emitted in.
    created_at timestamptz not null default clock_timestamp(),
    dispatched_at timestamptz,
    attempts integer not null default 0,
    last_error text,
    constraint event_outbox_id_organization_key unique (id, organization_id)
);
comment on table public.event_outbox is
    'Events written in the transaction of the change they report; dispatched to subscribers by a cron.';
comment on column public.event_outbox.attempts is 'Dispatch runs that could not queue every delivery of this event.';
create index event_outbox_organization_id_idx on public.event_outbox (organization_id, created_at desc);
create index event_outbox_undispatched_idx on public.event_outbox (created_at, id) where dispatched_at is null;

create table public.webhook_endpoints (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    url text not null constraint webhook_endpoints_url_check check (url ~ '^https?://\S+$' and length(url) <= 2048),
    description text not null default ''
        constraint webhook_endpoints_description_check check (length(description) <= 500),
    events public.event_type[] not null
        constraint webhook_endpoints_events_check check (cardinality(events) >= 1 and array_position(events, null) is null),
    enabled boolean not null default true,
    secret_id uuid,
    previous_secret_id uuid,
    previous_secret_expires_at timestamptz,
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint webhook_endpoints_id_organization_key unique (id, organization_id)
);
-- No foreign key to vault.secrets: Supabase does not let user tables reference the vault (supabase#34780).
comment on column public.webhook_endpoints.secret_id is 'Vault secret id of the signing secret; the secret is shown once, at creation.';
comment on column public.webhook_endpoints.previous_secret_id is
    'Vault secret id of the secret before the last rotation, still signing until previous_secret_expires_at.';
create index webhook_endpoints_organization_id_idx on public.webhook_endpoints (organization_id, created_at, id);
create index webhook_endpoints_created_by_idx on public.webhook_endpoints (created_by);
create trigger webhook_endpoints_touch before update on public.webhook_endpoints
    for each row execute function app.touch_updated_at();

-- One row per delivery attempt: the delivery id is new for every attempt, the event id never changes.
create table public.webhook_deliveries (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    endpoint_id uuid not null,
    event_id uuid not null,
    event_type public.event_type not null,
    attempt integer not null constraint webhook_deliveries_attempt_check check (attempt >= 1),
    status text not null default 'pending'
        constraint webhook_deliveries_status_check check (status in ('pending', 'succeeded', 'failed')),
    response_status integer,
    response_body text constraint webhook_deliveries_response_body_check check (length(response_body) <= 1024),
    error text constraint webhook_deliveries_error_check check (length(error) <= 500),
    duration_ms integer,
    next_attempt_at timestamptz,
    created_at timestamptz not null default now(),
    completed_at timestamptz,
    constraint webhook_deliveries_endpoint_fkey foreign key (endpoint_id, organization_id)
        references public.webhook_endpoints (id, organization_id) on delete cascade,
    constraint webhook_deliveries_event_fkey foreign key (event_id, organization_id)
        references public.event_outbox (id, organization_id) on delete cascade
);
comment on table public.webhook_deliveries is 'The delivery log members read; written by the delivery worker only.';
create index webhook_deliveries_endpoint_created_idx on public.webhook_deliveries (endpoint_id, created_at desc, id desc);
create index webhook_deliveries_organization_id_idx on public.webhook_deliveries (organization_id);
create index webhook_deliveries_event_id_idx on public.webhook_deliveries (event_id, endpoint_id);

alter table public.event_outbox enable row level security;
alter table public.webhook_endpoints enable row level security;
alter table public.webhook_deliveries enable row level security;

create policy "members read events" on public.event_outbox
    for select to authenticated using (organization_id in (select app.my_org_ids()));

create policy "members read webhook endpoints" on public.webhook_endpoints
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "admins create webhook endpoints" on public.webhook_endpoints
    for insert to authenticated with check (
        organization_id in (select app.my_org_ids_with_role('admin'))
        and (created_by is null or created_by = (select auth.uid()))
    );
create policy "admins update webhook endpoints" on public.webhook_endpoints
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('admin')))
    with check (organization_id in (select app.my_org_ids_with_role('admin')));
create policy "admins delete webhook endpoints" on public.webhook_endpoints
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));

create policy "members read webhook deliveries" on public.webhook_deliveries
    for select to authenticated using (organization_id in (select app.my_org_ids()));

-- Least privilege: events and the log are read-only to users; secret columns move only through
-- app.new_webhook_secret (TRUNCATE, which RLS does not cover, is not granted either).
revoke all on public.event_outbox, public.webhook_endpoints, public.webhook_deliveries from anon, authenticated;
grant select on public.event_outbox, public.webhook_deliveries to authenticated;
grant select, delete on public.webhook_endpoints to authenticated;
grant insert (organization_id, url, description, events, enabled, created_by) on public.webhook_endpoints to authenticated;
grant update (url, description, events, enabled) on public.webhook_endpoints to authenticated;

-- The service path: service_role claims, or a direct connection without any JWT claims (migrations,
-- psql, SQL tests). PostgREST and user_session() always set claims, so a user request never matches.
create function app.is_service_path() returns boolean
language sql stable set search_path = '' as $$
    select nullif(current_setting('request.jwt.claims', true), '') is null
        or (select auth.role()) = 'service_role'
$$;

-- The check every admin-only security-definer function makes on a row of an organization: the service
-- path may; a non-member gets "not found" (the row's existence is not revealed); a member below admin
-- gets "forbidden". p_what names the row in the messages.
create function app.require_admin(p_organization_id uuid, p_what text) returns void
language plpgsql stable set search_path = '' as $$
begin
    if p_organization_id is null then
        raise exception '% not found', p_what using errcode = 'P0002';
    end if;
    if (select app.is_service_path()) then
        return;
    end if;
    if p_organization_id not in (select app.my_org_ids()) then
        raise exception '% not found', p_what using errcode = 'P0002';
    end if;
    if p_organization_id not in (select app.my_org_ids_with_role('admin')) then
        raise exception 'only owners and admins manage %s', p_what using errcode = '42501';
    end if;
end
$$;

-- Record an event in the caller's transaction. The service path emits for any organization;
-- a user (a request under RLS) only for an organization where they are an editor or above.
create function app.emit_event(p_organization_id uuid, p_type text, p_payload jsonb default '{}'::jsonb)
returns uuid
language plpgsql security definer set search_path = '' as $$
declare
    v_id uuid;
begin
    if not (select app.is_service_path())
       and p_organization_id not in (select app.my_org_ids_with_role('editor')) then
        raise exception 'only the service path and editors emit events' using errcode = '42501';
    end if;
    insert into public.event_outbox (organization_id, type, payload)
    values (p_organization_id, p_type::public.event_type, coalesce(p_payload, '{}'::jsonb))
    returning id into v_id;
    return v_id;
end
$$;

-- Vault access for the service path only (workers, crons): the vault itself stays closed to the API roles.
create function app.store_secret(p_secret text, p_name text, p_description text default '') returns uuid
language sql security definer set search_path = '' as $$
    select vault.create_secret(p_secret, p_name, coalesce(p_description, ''))
$$;

create function app.update_secret(p_secret_id uuid, p_secret text) returns void
language sql security definer set search_path = '' as $$
    select vault.update_secret(p_secret_id, p_secret)
$$;

create function app.read_secrets(p_secret_ids uuid[]) returns table (id uuid, secret text)
language sql stable security definer set search_path = '' as $$
    select s.id, s.decrypted_secret from vault.decrypted_secrets s where s.id = any (p_secret_ids)
$$;

create function app.delete_secret(p_secret_id uuid) returns void
language sql security definer set search_path = '' as $$
    delete from vault.secrets s where s.id = p_secret_id
$$;

-- Give an endpoint a new signing secret and return it (the only time it is readable). With a
-- grace period the current secret keeps signing beside the new one until it ends; the secret
-- that period no longer covers is deleted from the vault. Admins and owners only.
create function app.new_webhook_secret(p_endpoint_id uuid, p_grace interval) returns text
language plpgsql security definer set search_path = '' as $$
declare
    v_endpoint public.webhook_endpoints;
    v_secret text := 'whsec_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
    v_secret_id uuid;
    v_keep_current boolean;
begin
    select * into v_endpoint from public.webhook_endpoints e where e.id = p_endpoint_id for update;
    perform app.require_admin(v_endpoint.organization_id, 'webhook endpoint');
    v_secret_id := vault.create_secret(
        v_secret, format('webhook_endpoint:%s:%s', v_endpoint.id, gen_random_uuid()), 'Webhook signing secret'
    );
    v_keep_current := v_endpoint.secret_id is not null and p_grace > interval '0';
    delete from vault.secrets s
    where s.id = v_endpoint.previous_secret_id or (s.id = v_endpoint.secret_id and not v_keep_current);
    update public.webhook_endpoints e set
        secret_id = v_secret_id,
        previous_secret_id = case when v_keep_current then v_endpoint.secret_id end,
        previous_secret_expires_at = case when v_keep_current then now() + p_grace end
    where e.id = v_endpoint.id;
    return v_secret;
end
$$;

-- A deleted endpoint (or organization) takes its secrets out of the vault with it.
create function app.forget_webhook_secrets() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    delete from vault.secrets s where s.id in (old.secret_id, old.previous_secret_id);
    return old;
end
$$;
create trigger webhook_endpoints_forget_secrets after delete on public.webhook_endpoints
    for each row execute function app.forget_webhook_secrets();

-- Create an endpoint and its first secret, returned this once. Security invoker: the insert
-- policy decides (admins and owners); an organization the caller cannot see is not found.
create function public.create_webhook_endpoint(
    p_organization_id uuid, p_url text, p_events public.event_type[], p_description text default '',
    p_enabled boolean default true
) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_id uuid;
    v_secret text;
begin
    if not exists (select 1 from public.organizations o where o.id = p_organization_id) then
        raise exception 'organization not found' using errcode = 'P0002';
    end if;
    insert into public.webhook_endpoints (organization_id, url, description, events, enabled, created_by)
    values (p_organization_id, p_url, coalesce(p_description, ''), p_events, coalesce(p_enabled, true),
            (select auth.uid()))
    returning id into v_id;
    if (select count(*) from public.webhook_endpoints e where e.organization_id = p_organization_id) > 16 then
        raise exception 'an organization has at most 16 webhook endpoints' using errcode = 'P0001';
    end if;
    v_secret := app.new_webhook_secret(v_id, interval '0');
    return (select to_jsonb(e) - 'secret_id' - 'previous_secret_id' from public.webhook_endpoints e where e.id = v_id)
        || jsonb_build_object('secret', v_secret);
end
$$;

-- Rotate: a new secret, returned this once; the current one keeps signing for p_grace.
create function public.rotate_webhook_secret(p_endpoint_id uuid, p_grace interval default interval '24 hours')
returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_secret text := app.new_webhook_secret(p_endpoint_id, p_grace);
begin
    return (select to_jsonb(e) - 'secret_id' - 'previous_secret_id' from public.webhook_endpoints e
            where e.id = p_endpoint_id)
        || jsonb_build_object('secret', v_secret);
end
$$;

revoke all on function app.is_service_path(), app.emit_event(uuid, text, jsonb), app.store_secret(text, text, text),
    app.update_secret(uuid, text), app.read_secrets(uuid[]), app.delete_secret(uuid),
    app.new_webhook_secret(uuid, interval), app.forget_webhook_secrets(),
    public.create_webhook_endpoint(uuid, text, public.event_type[], text, boolean),
    public.rotate_webhook_secret(uuid, interval)
    from public, anon;
grant execute on function app.is_service_path(), app.emit_event(uuid, text, jsonb), app.new_webhook_secret(uuid, interval),
    public.create_webhook_endpoint(uuid, text, public.event_type[], text, boolean),
    public.rotate_webhook_secret(uuid, interval)
    to authenticated, service_role;
grant execute on function app.store_secret(text, text, text), app.update_secret(uuid, text),
    app.read_secrets(uuid[]), app.delete_secret(uuid)
    to service_role;
