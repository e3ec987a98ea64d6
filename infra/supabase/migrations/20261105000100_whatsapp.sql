-- The WhatsApp Cloud API channel: inbound deliveries, outbound sends and delivery statuses.
--
-- A webhook delivery is stored by one statement, app.whatsapp_receive(), in one transaction (the
-- webhook carries no user JWT, so it runs on the service path): route by phone_number_id, upsert the
-- lead, find or open its conversation, store each message once (messages.channel_message_id is unique
-- per organization, so a redelivered wamid is a no-op), and apply status callbacks.
-- Outbound rows wait `queued`; a sender claims one (send_claimed_at) before calling the Graph API,
-- so a redelivered job never sends the same row twice while the first attempt runs.

alter table public.messages add column send_claimed_at timestamptz;
comment on column public.messages.send_claimed_at is
    'When a WhatsApp sender claimed this queued outbound message; a claim older than a few minutes is stale.';
-- Children reference a message with its tenant, as every other child table does.
alter table public.messages add constraint messages_id_organization_key unique (id, organization_id);

-- Every status callback Meta sent for an outbound message, errors included, in arrival order.
-- A callback can precede the send's own update (message_id is filled in then); redeliveries are no-ops.
create table public.message_status_events (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    message_id uuid,
    channel_message_id text not null
        constraint message_status_events_channel_message_id_check check (length(channel_message_id) between 1 and 256),
    status text not null constraint message_status_events_status_check check (status ~ '^[a-z_]{1,32}$'),
    errors jsonb not null default '[]'::jsonb
        constraint message_status_events_errors_check check (jsonb_typeof(errors) = 'array'),
    occurred_at timestamptz not null,
    created_at timestamptz not null default now(),
    constraint message_status_events_message_fkey foreign key (message_id, organization_id)
        references public.messages (id, organization_id) on delete cascade,
    -- Also the tenant index: organization_id leads it.
    constraint message_status_events_event_key unique (organization_id, channel_message_id, status, occurred_at)
);
comment on table public.message_status_events is 'WhatsApp status callbacks (sent, delivered, read, failed) per message.';
create index message_status_events_message_id_idx on public.message_status_events (message_id, occurred_at);

alter table public.message_status_events enable row level security;
create policy "members read message status events" on public.message_status_events
    for select to authenticated using (organization_id in (select app.my_org_ids()));
-- Written by the webhook (service path) only.
revoke all on public.message_status_events from anon, authenticated;
grant select on public.message_status_events to authenticated;

-- Statuses only move forward; failed is terminal (callbacks arrive out of order).
create function app.message_status_rank(p_status text) returns integer
language sql immutable set search_path = '' as $$
    select case p_status when 'received' then 0 when 'queued' then 1 when 'sent' then 2 when 'delivered' then 3
                         when 'read' then 4 when 'failed' then 5 end
$$;

-- 'opt_out', 'opt_in' or null for a normalised keyword; the agent's lists replace the defaults.
create function app.whatsapp_consent_keyword(p_keyword text, p_config jsonb, p_defaults jsonb) returns text
language sql immutable set search_path = '' as $$
    select case
        when p_keyword is null then null
        when exists (
            select 1 from jsonb_array_elements_text(case when jsonb_typeof(p_config -> 'opt_out_keywords') = 'array'
                then p_config -> 'opt_out_keywords' else p_defaults -> 'opt_out' end) k
            where lower(btrim(k)) = p_keyword) then 'opt_out'
        when exists (
            select 1 from jsonb_array_elements_text(case when jsonb_typeof(p_config -> 'opt_in_keywords') = 'array'
                then p_config -> 'opt_in_keywords' else p_defaults -> 'opt_in' end) k
            where lower(btrim(k)) = p_keyword) then 'opt_in'
    end
$$;

-- The lead's open WhatsApp conversation with the agent, locked, or a new one on the agent's current
-- version (none when the agent is archived). The caller holds the lead's row lock, so two deliveries
-- from one new lead cannot both open a conversation.
create function app.whatsapp_open_conversation(p_organization_id uuid, p_agent_id uuid, p_lead_id uuid)
returns public.conversations
language plpgsql set search_path = '' as $$
declare
    v_conv public.conversations;
begin
    select * into v_conv from public.conversations c
    where c.organization_id = p_organization_id and c.lead_id = p_lead_id and c.agent_id = p_agent_id
      and c.channel = 'whatsapp' and c.status <> 'closed'
    order by c.created_at desc
    limit 1
    for update;
    if v_conv.id is not null then
        return v_conv;
    end if;
    insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)
    select a.organization_id, a.id, a.current_version, p_lead_id, 'whatsapp'
    from public.agents a where a.id = p_agent_id and a.organization_id = p_organization_id and a.status = 'active'
    returning * into v_conv;
    if v_conv.id is not null then
        insert into public.lead_events (organization_id, lead_id, conversation_id, type, actor, data)
        values (p_organization_id, p_lead_id, v_conv.id, 'conversation.started', 'whatsapp',
                jsonb_build_object('channel', 'whatsapp', 'agent_id', p_agent_id, 'agent_version', v_conv.agent_version));
    end if;
    return v_conv;
end
$$;

-- Store one inbound message (normalised by shared/whatsapp/content.py); null when its wamid is known.
-- An opt-out, a message from an opted-out lead and an unsupported type are stored already handled:
-- no model turn answers them. Returns {id, conversation_id, enqueue} or {skipped}.
create function app.whatsapp_store_message(
    p_organization_id uuid, p_agent_id uuid, p_phone_number_id text, p_message jsonb, p_keywords jsonb
) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_wamid text := p_message ->> 'wamid';
    v_window timestamptz := to_timestamp((p_message ->> 'timestamp')::double precision) + interval '24 hours';
    v_lead public.leads;
    v_conv public.conversations;
    v_consent text;
    v_silent boolean;
    v_id uuid;
begin
    if exists (select 1 from public.messages m where m.organization_id = p_organization_id
               and m.channel_message_id = v_wamid) then
        return null;
    end if;
    v_lead := app.upsert_lead(p_organization_id, p_message ->> 'name', null, p_message ->> 'phone', 'whatsapp');
    v_conv := app.whatsapp_open_conversation(p_organization_id, p_agent_id, v_lead.id);
    if v_conv.id is null then
        return jsonb_build_object('skipped', 'agent_archived');
    end if;
    v_consent := app.whatsapp_consent_keyword(p_message ->> 'keyword', (
        select v.config -> 'whatsapp' from public.agent_versions v
        where v.agent_id = v_conv.agent_id and v.version = v_conv.agent_version), p_keywords);
    v_silent := v_consent is not distinct from 'opt_out' or (v_consent is null and not v_lead.consent)
        or p_message ->> 'content_type' is not distinct from 'unsupported';
    -- clock_timestamp: messages of one delivery keep their order (now() is the same for the whole transaction).
    insert into public.messages as m (organization_id, conversation_id, role, content, content_type, payload, status,
                                      channel_message_id, handled_at, created_at)
    values (p_organization_id, v_conv.id, 'lead', coalesce(p_message ->> 'content', ''),
            coalesce(p_message ->> 'content_type', 'text'), coalesce(p_message -> 'payload', '{}'::jsonb),
            (case when v_silent then 'read' else 'received' end)::public.message_status, v_wamid,
            case when v_silent then now() end, clock_timestamp())
    on conflict on constraint messages_channel_message_id_key do nothing
    returning m.id into v_id;
    if v_id is null then  -- a concurrent copy of this delivery stored it first
        return null;
    end if;
    -- The customer-service window runs 24 h from the lead's latest message; replies go out from the
    -- number the lead last wrote to.
    update public.conversations c set
        last_message_at = now(),
        window_expires_at = greatest(c.window_expires_at, v_window),
        metadata = jsonb_set(c.metadata, '{whatsapp}', jsonb_build_object('phone_number_id', p_phone_number_id))
    where c.id = v_conv.id;
    if v_consent is not null and v_lead.consent is distinct from (v_consent = 'opt_in') then
        update public.leads l set consent = (v_consent = 'opt_in') where l.id = v_lead.id;
        -- Recorded as lead.updated, like the worker's field changes, so subscribers hear of it too.
        insert into public.lead_events (organization_id, lead_id, conversation_id, type, actor, data)
        values (p_organization_id, v_lead.id, v_conv.id, 'lead.updated', 'whatsapp', jsonb_build_object(
            'fields', jsonb_build_array('consent'), 'consent', v_consent = 'opt_in', 'reason', v_consent,
            'keyword', p_message ->> 'keyword', 'message_id', v_id));
    end if;
    return jsonb_build_object('id', v_id, 'conversation_id', v_conv.id,
                              'enqueue', not v_silent and v_conv.status = 'bot');
end
$$;

-- Record one status callback and move the message forward (never back; failed is terminal).
create function app.whatsapp_apply_status(p_organization_id uuid, p_status jsonb) returns void
language plpgsql set search_path = '' as $$
declare
    v_new text := p_status ->> 'status';
    v_error jsonb := p_status -> 'errors' -> 0;
    v_message_id uuid;
begin
    select m.id into v_message_id from public.messages m
    where m.organization_id = p_organization_id and m.channel_message_id = p_status ->> 'id'
      and m.role in ('assistant', 'human');
    insert into public.message_status_events (organization_id, message_id, channel_message_id, status, errors,
                                              occurred_at)
    values (p_organization_id, v_message_id, p_status ->> 'id', v_new, coalesce(p_status -> 'errors', '[]'::jsonb),
            coalesce(to_timestamp((p_status ->> 'timestamp')::double precision), now()))
    on conflict on constraint message_status_events_event_key do nothing;
    if v_message_id is null or v_new not in ('sent', 'delivered', 'read', 'failed') then
        return;
    end if;
    update public.messages m set
        status = v_new::public.message_status,
        error = case when v_new = 'failed' then jsonb_build_object(
            'type', '/problems/whatsapp-delivery-failed', 'title', coalesce(v_error ->> 'title', 'Delivery failed'),
            'code', v_error -> 'code', 'detail', coalesce(v_error -> 'error_data' ->> 'details', v_error ->> 'message'))
            else m.error end
    where m.id = v_message_id and app.message_status_rank(v_new) > app.message_status_rank(m.status::text);
end
$$;

-- One webhook delivery: p_delivery = {keywords: {opt_out: [], opt_in: []}, changes: [{phone_number_id,
-- messages: [...], statuses: [...]}]}. Returns {stored: [{id, conversation_id, enqueue}], unrouted: [ids],
-- duplicates, skipped, statuses}.
create function app.whatsapp_receive(p_delivery jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_change jsonb;
    v_item jsonb;
    v_result jsonb;
    v_org uuid;
    v_agent uuid;
    v_stored jsonb := '[]'::jsonb;
    v_unrouted jsonb := '[]'::jsonb;
    v_duplicates integer := 0;
    v_skipped integer := 0;
    v_statuses integer := 0;
begin
    for v_change in select value from jsonb_array_elements(coalesce(p_delivery -> 'changes', '[]'::jsonb)) loop
        select i.organization_id, i.agent_id into v_org, v_agent from public.integrations i
        where i.kind = 'whatsapp' and i.external_id = v_change ->> 'phone_number_id' and i.enabled;
        if v_org is null or v_agent is null then
            v_unrouted := v_unrouted || jsonb_build_array(v_change ->> 'phone_number_id');
            continue;
        end if;
        for v_item in select value from jsonb_array_elements(coalesce(v_change -> 'messages', '[]'::jsonb)) loop
            v_result := app.whatsapp_store_message(v_org, v_agent, v_change ->> 'phone_number_id', v_item,
                                                   p_delivery -> 'keywords');
            if v_result is null then
                v_duplicates := v_duplicates + 1;
            elsif v_result ? 'skipped' then
                v_skipped := v_skipped + 1;
            else
                v_stored := v_stored || jsonb_build_array(v_result);
            end if;
        end loop;
        for v_item in select value from jsonb_array_elements(coalesce(v_change -> 'statuses', '[]'::jsonb)) loop
            perform app.whatsapp_apply_status(v_org, v_item);
            v_statuses := v_statuses + 1;
        end loop;
    end loop;
    return jsonb_build_object('stored', v_stored, 'unrouted', v_unrouted, 'duplicates', v_duplicates,
                              'skipped', v_skipped, 'statuses', v_statuses);
end
$$;

-- A sent message keeps its wamid(s); callbacks that beat this update already count.
create function app.whatsapp_mark_sent(p_message_id uuid, p_wamids text[]) returns void
language plpgsql set search_path = '' as $$
declare
    v_org uuid;
begin
    select m.organization_id into v_org from public.messages m where m.id = p_message_id;
    update public.message_status_events e set message_id = p_message_id
    where e.organization_id = v_org and e.channel_message_id = p_wamids[1] and e.message_id is null;
    update public.messages m set
        channel_message_id = p_wamids[1],
        payload = case when cardinality(p_wamids) > 1 then m.payload || jsonb_build_object('wamids', to_jsonb(p_wamids))
                  else m.payload end,
        error = null,
        status = coalesce((
            select e.status from public.message_status_events e
            where e.organization_id = v_org and e.channel_message_id = p_wamids[1]
              and e.status in ('delivered', 'read', 'failed')
            order by app.message_status_rank(e.status) desc limit 1), 'sent')::public.message_status
    where m.id = p_message_id;
end
$$;

revoke all on function app.message_status_rank(text), app.whatsapp_consent_keyword(text, jsonb, jsonb),
    app.whatsapp_open_conversation(uuid, uuid, uuid), app.whatsapp_store_message(uuid, uuid, text, jsonb, jsonb),
    app.whatsapp_apply_status(uuid, jsonb), app.whatsapp_receive(jsonb), app.whatsapp_mark_sent(uuid, text[])
    from public, anon;
grant execute on function app.message_status_rank(text), app.whatsapp_consent_keyword(text, jsonb, jsonb),
    app.whatsapp_open_conversation(uuid, uuid, uuid), app.whatsapp_store_message(uuid, uuid, text, jsonb, jsonb),
    app.whatsapp_apply_status(uuid, jsonb), app.whatsapp_receive(jsonb), app.whatsapp_mark_sent(uuid, text[])
    to service_role;
