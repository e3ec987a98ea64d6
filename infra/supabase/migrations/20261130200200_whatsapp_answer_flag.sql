-- Which inbound WhatsApp messages get a model turn is Python's decision (shared/whatsapp/content.py:
-- `answer`, false for reactions and unsupported types); SQL stores it. A reaction keeps its emoji and
-- the wamid of the message it is on, plus that message's id here when we have it.
create or replace function app.whatsapp_store_message(
    p_organization_id uuid, p_agent_id uuid, p_phone_number_id text, p_message jsonb, p_keywords jsonb
) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_wamid text := p_message ->> 'wamid';
    v_window timestamptz := to_timestamp((p_message ->> 'timestamp')::double precision) + interval '24 hours';
    v_payload jsonb := coalesce(p_message -> 'payload', '{}'::jsonb);
    v_lead public.leads;
    v_conv public.conversations;
    v_consent text;
    v_silent boolean;
    v_status public.messages.status%type;
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
        or (p_message -> 'answer') = 'false'::jsonb;
    if p_message ->> 'content_type' = 'reaction' then
        v_payload := v_payload || jsonb_strip_nulls(jsonb_build_object('reacted_message_id', (
            select m.id from public.messages m
            where m.organization_id = p_organization_id and m.channel_message_id = v_payload ->> 'message_id')));
    end if;
    if v_silent then
        v_status := 'read';
    else
        v_status := 'received';
    end if;
    -- clock_timestamp: messages of one delivery keep their order (now() is the same for the whole transaction).
    insert into public.messages as m (organization_id, conversation_id, role, content, content_type, payload, status,
                                      channel_message_id, handled_at, created_at)
    values (p_organization_id, v_conv.id, 'lead', coalesce(p_message ->> 'content', ''),
            coalesce(p_message ->> 'content_type', 'text'), v_payload, v_status, v_wamid,
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
