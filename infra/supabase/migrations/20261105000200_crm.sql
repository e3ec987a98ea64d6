-- CRM sync, both ways, and the integrations API.
--
-- Credentials: one Vault secret per integration (a JSON object), set through
-- app.set_integration_credentials, which checks the caller is an admin first; they are never returned.
-- Outbound: the delivery worker keeps, per (integration, lead), the CRM's contact and deal ids in
-- public.crm_links, so retries and later events update the same records. Inbound: a CRM webhook that
-- marks a deal won or lost goes through app.record_crm_outcome (service path only).

-- Child rows reference an integration by (id, organization_id), so they never cross tenants.
alter table public.integrations add constraint integrations_id_organization_key unique (id, organization_id);

-- Users write integrations' plain columns; the secret reference moves only through the function below.
revoke insert, update on public.integrations from authenticated;
grant insert (organization_id, kind, name, agent_id, external_id, config, enabled, created_by)
    on public.integrations to authenticated;
grant update (name, agent_id, external_id, config, enabled) on public.integrations to authenticated;
-- TRUNCATE ignores RLS: no API role may empty the table.
revoke truncate on public.integrations from anon, authenticated;

-- A conversion a CRM reported carries the CRM's kind as its source, and the deal id as its
-- external_id: conversions_external_id_key (organization_id, source, external_id) makes it once-only.
alter table public.conversions drop constraint conversions_source_check;
alter table public.conversions add constraint conversions_source_check
    check (source in ('agent', 'human', 'crm', 'hubspot', 'pipedrive', 'rdstation'));

create table public.crm_links (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    integration_id uuid not null,
    lead_id uuid not null,
    contact_id text constraint crm_links_contact_id_check check (length(contact_id) <= 100),
    deal_id text constraint crm_links_deal_id_check check (length(deal_id) <= 100),
    synced_step text constraint crm_links_synced_step_check
        check (synced_step in ('qualified', 'handoff', 'converted', 'lost')),
    last_event_id uuid,
    last_status text constraint crm_links_last_status_check check (last_status in ('succeeded', 'failed', 'rejected', 'skipped')),
    last_error text constraint crm_links_last_error_check check (length(last_error) <= 500),
    synced_at timestamptz,
    -- A delivery leases the row while it talks to the CRM, so two deliveries for one lead never
    -- both create a deal; an expired lease (a worker that died) is simply taken over.
    lease_id uuid,
    lease_expires_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint crm_links_integration_lead_key unique (integration_id, lead_id),
    constraint crm_links_integration_fkey foreign key (integration_id, organization_id)
        references public.integrations (id, organization_id) on delete cascade,
    constraint crm_links_lead_fkey foreign key (lead_id, organization_id)
        references public.leads (id, organization_id) on delete cascade
);
comment on table public.crm_links is
    'Our lead <-> a CRM''s contact and deal, per integration. Written by the delivery worker and CRM webhooks only.';
comment on column public.crm_links.synced_step is 'How far the deal was moved: steps only go forward (qualified < handoff < converted/lost).';
create index crm_links_organization_id_idx on public.crm_links (organization_id);
create index crm_links_lead_id_idx on public.crm_links (lead_id);
create unique index crm_links_integration_deal_key on public.crm_links (integration_id, deal_id) where deal_id is not null;
create trigger crm_links_touch before update on public.crm_links for each row execute function app.touch_updated_at();

alter table public.crm_links enable row level security;
create policy "members read crm links" on public.crm_links
    for select to authenticated using (organization_id in (select app.my_org_ids()));
revoke all on public.crm_links from anon, authenticated;
grant select on public.crm_links to authenticated;

-- Store (or replace) an integration's credentials, a JSON object, in the vault. Admins and owners
-- of the integration's organization, or the service path. Nothing is returned: credentials are write-only.
create function app.set_integration_credentials(p_integration_id uuid, p_credentials text) returns void
language plpgsql security definer set search_path = '' as $$
declare
    v_integration public.integrations;
begin
    select * into v_integration from public.integrations i where i.id = p_integration_id for update;
    perform app.require_admin(v_integration.organization_id, 'integration');
    if p_credentials is null or jsonb_typeof(p_credentials::jsonb) <> 'object' then
        raise exception 'credentials must be a JSON object' using errcode = '22023', column = 'credentials';
    end if;
    if v_integration.secret_id is not null and exists (select 1 from vault.secrets s where s.id = v_integration.secret_id) then
        perform vault.update_secret(v_integration.secret_id, p_credentials);
        return;
    end if;
    update public.integrations i set secret_id = vault.create_secret(
        p_credentials, format('integration:%s:%s', v_integration.id, gen_random_uuid()),
        format('%s credentials', v_integration.kind)
    ) where i.id = v_integration.id;
end
$$;

-- A deleted integration (or organization) takes its credentials out of the vault with it.
create function app.forget_integration_secret() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    delete from vault.secrets s where s.id = old.secret_id;
    return old;
end
$$;
create trigger integrations_forget_secret after delete on public.integrations
    for each row execute function app.forget_integration_secret();

-- Create an integration with its credentials in one transaction; returns it without them.
-- Security invoker: the insert policy decides too; the checks below only give clearer errors.
create function public.create_integration(
    p_organization_id uuid, p_kind public.integration_kind, p_name text, p_agent_id uuid, p_external_id text,
    p_config jsonb, p_enabled boolean, p_credentials text
) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_id uuid;
begin
    if not exists (select 1 from public.organizations o where o.id = p_organization_id) then
        raise exception 'organization not found' using errcode = 'P0002';
    end if;
    if p_organization_id not in (select app.my_org_ids_with_role('admin')) then
        raise exception 'only owners and admins manage integrations' using errcode = '42501';
    end if;
    if p_agent_id is not null
       and not exists (select 1 from public.agents a where a.id = p_agent_id and a.organization_id = p_organization_id) then
        raise exception 'agent not found in this organization' using errcode = '23503', column = 'agent_id';
    end if;
    insert into public.integrations (organization_id, kind, name, agent_id, external_id, config, enabled, created_by)
    values (p_organization_id, p_kind, btrim(p_name), p_agent_id, p_external_id, coalesce(p_config, '{}'::jsonb),
            coalesce(p_enabled, true), (select auth.uid()))
    returning id into v_id;
    if p_credentials is not null then
        perform app.set_integration_credentials(v_id, p_credentials);
    end if;
    return (select to_jsonb(i) - 'secret_id' - 'created_by' || jsonb_build_object('has_credentials', i.secret_id is not null)
            from public.integrations i where i.id = v_id);
end
$$;

-- A CRM reported a deal won or lost (p_outcome). The lead is found through the deal's link, else
-- by e-mail. Won: a conversion attributed to the conversation (and agent version) that qualified the
-- lead, else its latest conversation; once per (organization, source, p_external_id). Lost: the lead's
-- stage, unless it is already lost or converted. The lead's stage moves with a lead event; the
-- outbox event for a new conversion comes from the conversions table's own trigger.
create function app.record_crm_outcome(
    p_integration_id uuid, p_outcome text, p_deal_id text, p_email text, p_external_id text,
    p_value numeric, p_currency text, p_occurred_at timestamptz, p_data jsonb default '{}'::jsonb
) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_integration public.integrations;
    v_lead public.leads;
    v_conversation record;
    v_conversion uuid;
    v_type text;
    v_to public.lead_stage := case p_outcome when 'won' then 'converted' when 'lost' then 'lost' end;
begin
    if v_to is null then
        raise exception 'outcome must be won or lost' using errcode = '22023';
    end if;
    select * into v_integration from public.integrations i where i.id = p_integration_id;
    select l.* into v_lead from public.crm_links k join public.leads l on l.id = k.lead_id
    where k.integration_id = p_integration_id and k.deal_id = p_deal_id
    for update of l;
    if v_lead.id is null and p_email is not null then
        select * into v_lead from public.leads l
        where l.organization_id = v_integration.organization_id and l.email = lower(btrim(p_email))
        for update;
    end if;
    if v_integration.id is null or v_lead.id is null then
        return jsonb_build_object('status', 'unknown_lead');
    end if;

    if p_outcome = 'lost' and v_lead.stage in ('lost', 'converted') then
        return jsonb_build_object('status', 'unchanged', 'lead_id', v_lead.id);
    end if;
    select c.id, c.agent_id, c.agent_version into v_conversation
    from public.lead_events e join public.conversations c on c.id = e.conversation_id
    where e.lead_id = v_lead.id and e.type = 'lead.qualified'
    order by e.created_at desc, e.id desc limit 1;
    if v_conversation.id is null then
        select c.id, c.agent_id, c.agent_version into v_conversation from public.conversations c
        where c.lead_id = v_lead.id order by coalesce(c.last_message_at, c.created_at) desc, c.id desc limit 1;
    end if;

    if p_outcome = 'won' then
        v_type := left(coalesce(nullif(btrim(v_integration.config ->> 'conversion_type'), ''), 'purchase'), 64);
        insert into public.conversions (organization_id, lead_id, conversation_id, agent_id, agent_version, type, value,
                                        currency, source, external_id, occurred_at)
        values (v_lead.organization_id, v_lead.id, v_conversation.id, v_conversation.agent_id,
                v_conversation.agent_version, v_type, greatest(coalesce(p_value, 0), 0), upper(coalesce(p_currency, 'BRL')),
                v_integration.kind::text, p_external_id, coalesce(p_occurred_at, now()))
        on conflict (organization_id, source, external_id) do nothing
        returning id into v_conversion;
        if v_conversion is null then
            return jsonb_build_object('status', 'duplicate', 'lead_id', v_lead.id);
        end if;
    end if;

    if v_lead.stage <> v_to then
        update public.leads l set stage = v_to where l.id = v_lead.id;
    end if;
    insert into public.lead_events (organization_id, lead_id, conversation_id, type, from_stage, to_stage, data, actor)
    values (v_lead.organization_id, v_lead.id, v_conversation.id,
            case p_outcome when 'won' then 'conversion.created' else 'lead.lost' end,
            case when v_lead.stage <> v_to then v_lead.stage end, case when v_lead.stage <> v_to then v_to end,
            coalesce(p_data, '{}'::jsonb) || jsonb_strip_nulls(jsonb_build_object(
                'source', v_integration.kind, 'integration_id', v_integration.id, 'deal_id', p_deal_id,
                'conversion_id', v_conversion)),
            v_integration.kind::text);
    -- The CRM already holds this outcome: later events must not move its deal back.
    insert into public.crm_links (organization_id, integration_id, lead_id, deal_id, synced_step)
    values (v_lead.organization_id, v_integration.id, v_lead.id, p_deal_id, case p_outcome when 'won' then 'converted' else 'lost' end)
    on conflict (integration_id, lead_id) do update set synced_step = excluded.synced_step;
    return jsonb_build_object('status', case p_outcome when 'won' then 'converted' else 'lost' end,
                              'lead_id', v_lead.id, 'conversion_id', v_conversion);
end
$$;

revoke all on function app.set_integration_credentials(uuid, text), app.forget_integration_secret(),
    public.create_integration(uuid, public.integration_kind, text, uuid, text, jsonb, boolean, text),
    app.record_crm_outcome(uuid, text, text, text, text, numeric, text, timestamptz, jsonb)
    from public, anon;
grant execute on function app.set_integration_credentials(uuid, text),
    public.create_integration(uuid, public.integration_kind, text, uuid, text, jsonb, boolean, text)
    to authenticated, service_role;
grant execute on function app.record_crm_outcome(uuid, text, text, text, text, numeric, text, timestamptz, jsonb)
    to service_role;
