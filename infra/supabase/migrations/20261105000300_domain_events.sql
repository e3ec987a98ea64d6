-- Domain events into the outbox, from triggers: whichever path changes the data (the worker's
-- app.finish_turn, the API, a CRM webhook, supabase-js), the event is written in the same
-- transaction as the change, so it is delivered exactly when the change commits.

create function app.outbox_insert(p_organization_id uuid, p_type text, p_payload jsonb) returns void
language sql security definer set search_path = '' as $$
    insert into public.event_outbox (organization_id, type, payload)
    values (p_organization_id, p_type::public.event_type, p_payload)
$$;
revoke all on function app.outbox_insert(uuid, text, jsonb) from public;

-- lead.updated, lead.qualified, handoff.requested and conversation.closed follow the lead events
-- that record them (written by the worker and by the conversation API).
create function app.lead_event_to_outbox() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if new.type in ('lead.updated', 'lead.qualified', 'handoff.requested', 'conversation.closed') then
        perform app.outbox_insert(new.organization_id, new.type, jsonb_strip_nulls(jsonb_build_object(
            'lead_id', new.lead_id, 'conversation_id', new.conversation_id, 'from_stage', new.from_stage,
            'to_stage', new.to_stage, 'actor', new.actor, 'lead_event_id', new.id) || new.data));
    end if;
    return null;
end
$$;
create trigger lead_events_to_outbox after insert on public.lead_events
    for each row execute function app.lead_event_to_outbox();

-- conversion.created from the row itself, so conversions recorded by a CRM webhook are announced too;
-- `source` lets a CRM deliverer skip the conversions that came from its own CRM.
create function app.conversion_to_outbox() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    perform app.outbox_insert(new.organization_id, 'conversion.created', jsonb_strip_nulls(jsonb_build_object(
        'conversion_id', new.id, 'lead_id', new.lead_id, 'conversation_id', new.conversation_id,
        'agent_id', new.agent_id, 'agent_version', new.agent_version, 'type', new.type, 'value', new.value,
        'currency', new.currency, 'source', new.source)));
    return null;
end
$$;
create trigger conversions_to_outbox after insert on public.conversions
    for each row execute function app.conversion_to_outbox();

-- message.created for what people said (lead, assistant, human), not for system notes.
create function app.message_to_outbox() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if new.role in ('lead', 'assistant', 'human') then
        perform app.outbox_insert(new.organization_id, 'message.created', jsonb_build_object(
            'message_id', new.id, 'conversation_id', new.conversation_id, 'role', new.role,
            'content', new.content, 'content_type', new.content_type, 'created_at', new.created_at));
    end if;
    return null;
end
$$;
create trigger messages_to_outbox after insert on public.messages
    for each row execute function app.message_to_outbox();

revoke all on function app.lead_event_to_outbox(), app.conversion_to_outbox(), app.message_to_outbox() from public;
