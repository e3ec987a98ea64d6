-- A turn's begin, sent again after its answer was lost, no longer leaves a second reservation held.
--
-- shared.db sends a worker's statement again, once, when its connection drops during the round trip
-- (and SQS delivers a message again when an invocation dies). app.begin_turn reserved the turn's budget
-- each time, so the first run's reservation stayed 'reserved' until it expired (10 minutes), holding that
-- much of the organization's budget, and the conversation's, for nothing: near a limit, other turns were
-- refused meanwhile. A conversation's turns never overlap (turns and follow-ups share its FIFO group, and
-- the turn queue's visibility timeout is six times the worker's timeout), so a reservation a conversation
-- still holds when its next begin runs is an orphan: it is released before the turn reserves.
-- app.reserve_turn_budget is that rule, for begin_turn and for the worker's fallback alias (reserved when
-- begin_turn's alias did not fit). The partial index keeps the lookup to the conversation's held
-- reservations (at most one, normally none).

create index budget_reservations_held_by_conversation_idx
    on public.budget_reservations (conversation_id) where status = 'reserved';

create function app.reserve_turn_budget(
    p_organization_id uuid, p_agent_id uuid, p_conversation_id uuid, p_alias text, p_amount numeric
) returns uuid
language plpgsql set search_path = '' as $$
begin
    -- A reservation this conversation still holds is an orphan (this reserve sent again after a lost answer,
    -- or a delivery that died): released now, so it holds no budget until it expires.
    perform app.settle_budget(r.id, null)
    from public.budget_reservations r
    where r.conversation_id = p_conversation_id and r.status = 'reserved';
    return app.reserve_budget(p_organization_id, p_agent_id, p_conversation_id, p_alias, p_amount);
end
$$;

revoke all on function app.reserve_turn_budget(uuid, uuid, uuid, text, numeric) from public;
grant execute on function app.reserve_turn_budget(uuid, uuid, uuid, text, numeric) to service_role;

create or replace function app.begin_turn(
    p_message_id uuid, p_history_limit integer, p_default_alias text, p_coefficients jsonb
) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_msg public.messages;
    v_conv public.conversations;
    v_config jsonb;
    v_lead public.leads;
    v_history jsonb;
    v_pending jsonb;
    v_chars integer;
    v_alias text;
    v_reservation uuid;
    v_estimate numeric;
    v_earlier text;
    v_window_start timestamptz;
    v_window_size integer;
    v_knowledge jsonb;  -- h12turn: what the turn consults in the knowledge base (null: nothing to consult)
begin
    select * into v_msg from public.messages m where m.id = p_message_id;
    if v_msg.id is null then
        return jsonb_build_object('status', 'missing');
    end if;
    if v_msg.handled_at is not null then
        return jsonb_build_object('status', 'done');
    end if;
    select * into v_conv from public.conversations c where c.id = v_msg.conversation_id;
    if v_conv.status <> 'bot' then
        return jsonb_build_object('status', 'not_bot');
    end if;
    select v.config into v_config from public.agent_versions v
    where v.agent_id = v_conv.agent_id and v.version = v_conv.agent_version;
    select * into v_lead from public.leads l where l.id = v_conv.lead_id;

    select coalesce(jsonb_agg(jsonb_build_object('id', h.id, 'role', h.role, 'content', h.content,
                                                 'content_type', h.content_type)
                              order by h.created_at, h.id), '[]'::jsonb),
           coalesce(sum(length(h.content)), 0), min(h.created_at), count(*)
      into v_history, v_chars, v_window_start, v_window_size
    from (
        select * from public.messages m
        where m.conversation_id = v_conv.id and m.role in ('lead', 'assistant', 'human')
          and m.created_at <= v_msg.created_at + interval '5 seconds'
        order by m.created_at desc, m.id desc
        limit p_history_limit
    ) h;
    -- The rolling summary: what the lead said before the history window, oldest first, each line capped.
    if v_window_size >= p_history_limit then
        select string_agg(left(e.content, 200), ' | ' order by e.created_at, e.id) into v_earlier
        from (
            select m.content, m.created_at, m.id from public.messages m
            where m.conversation_id = v_conv.id and m.role = 'lead' and m.created_at < v_window_start
            order by m.created_at desc, m.id desc
            limit 40
        ) e;
    end if;
    select coalesce(jsonb_agg(m.id order by m.created_at, m.id), '[]'::jsonb) into v_pending
    from public.messages m
    where m.conversation_id = v_conv.id and m.role = 'lead' and m.handled_at is null;

    -- h12turn: the cheap check. An agent with an indexed source of its own (or of its whole organization)
    -- gets the organization's embedding alias; the worker embeds the lead's question and retrieves.
    -- Indexed means a served version (version > 0): a source being re-indexed (pending, processing) or
    -- whose re-index failed still serves its last version's chunks.
    select jsonb_build_object('embedding_model', o.settings ->> 'knowledge_embedding_model') into v_knowledge
    from public.organizations o
    where o.id = v_conv.organization_id
      and exists (select 1 from public.knowledge_documents d
                  where d.organization_id = v_conv.organization_id and d.version > 0
                    and (d.agent_id is null or d.agent_id = v_conv.agent_id));

    v_chars := v_chars + length(v_config::text) + coalesce(length(v_earlier), 0);
    v_alias := coalesce(v_config ->> 'model', p_default_alias);
    if p_coefficients -> v_alias is not null then
        v_estimate := round(v_chars * (p_coefficients -> v_alias ->> 'per_char')::numeric
                            + (p_coefficients -> v_alias ->> 'fixed')::numeric, 6);
        v_reservation := app.reserve_turn_budget(v_conv.organization_id, v_conv.agent_id, v_conv.id, v_alias,
                                                 v_estimate);
    end if;
    -- The ephemeral typing event, on the conversation's private channel, from the database (Supabase's
    -- realtime.send): it reaches subscribers when this transaction commits, before the model is called,
    -- and costs the worker no HTTP call. A turn that reserved its budget is one the worker means to answer.
    if v_reservation is not null then
        perform realtime.send(jsonb_build_object('typing', true), 'typing', 'conversation:' || v_conv.id, true);
    end if;

    return jsonb_build_object(
        'status', case when v_reservation is null then 'budget_exhausted' else 'ok' end,
        'organization_id', v_conv.organization_id,
        'conversation', jsonb_build_object('id', v_conv.id, 'agent_id', v_conv.agent_id, 'channel', v_conv.channel,
                                           'summary', nullif(concat_ws(E'\n', v_conv.summary,
                                               'Earlier, the lead said: ' || v_earlier), '')),
        'config', v_config,
        'lead', jsonb_build_object('stage', v_lead.stage, 'score', v_lead.score, 'qualification', v_lead.qualification,
                                   'name', v_lead.name, 'email', v_lead.email, 'phone', v_lead.phone),
        'history', v_history,
        'pending', v_pending,
        'alias', v_alias,
        'reservation_id', v_reservation,
        'prompt_chars', v_chars,
        'delivery', jsonb_build_object('window_open', coalesce(v_conv.window_expires_at > now(), false),
                                       'consent', v_lead.consent),
        'knowledge', v_knowledge  -- h12turn
    );
end
$$;
