-- app.finish_turn, applied once (issue #10's turn, and #7's production-only paths); body from
-- 20261202400100_finish_turn_skips_empty_writes.sql, the change marked `-- h15once:`. shared.db sends a
-- script again, once, when its connection drops before the answer arrives (a stale connection, or one
-- the network timeout dropped). A finish whose commit succeeded and whose answer was lost then ran
-- twice: a second llm_usage row (the ledger, and every report and spend read from it) and the
-- conversation's cost counted twice. Its settled reservation now marks the finish as done.

create or replace function app.finish_turn(p_turn jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_org uuid := (p_turn ->> 'organization_id')::uuid;
    v_conv public.conversations;
    v_reply uuid;
    v_reply_status public.messages.status%type;
    v_cost numeric := (p_turn ->> 'cost_usd')::numeric;
    v_lead jsonb := p_turn -> 'lead';
    -- h12turn: what embedding the question (and any search_knowledge call) cost; part of cost_usd.
    v_knowledge_cost numeric := coalesce((p_turn -> 'knowledge_usage' ->> 'cost_usd')::numeric, 0);
    v_follow_up public.follow_ups;  -- h11follow: the follow-up step this turn writes, if any
    v_stop text;  -- h11follow: why that step stops instead
    v_lead_row public.leads;  -- the lead as it is now, for the step's re-check
begin
    select * into v_conv from public.conversations c
    where c.id = (p_turn ->> 'conversation_id')::uuid and c.organization_id = v_org
    for update;

    if p_turn ->> 'reservation_id' is not null then
        -- h15once: a reservation is settled (with a cost) by its own turn's finish only; the sweep releases,
        -- it never settles. So when this turn's reservation is settled already, this finish committed
        -- before and its answer was lost (shared.db retries a script once on a dropped connection):
        -- apply nothing twice (ledger rows, the conversation's cost), and answer with the stored reply,
        -- which the worker sends on WhatsApp (a send claims the message, so at most once).
        if not app.settle_budget((p_turn ->> 'reservation_id')::uuid,
                                 case when p_turn ->> 'settle' = 'release' then null else v_cost end)
           and exists (select 1 from public.budget_reservations r
                       where r.id = (p_turn ->> 'reservation_id')::uuid and r.status = 'settled') then
            select m.id into v_reply from public.messages m
            where m.reply_to = (p_turn ->> 'message_id')::uuid and m.conversation_id = v_conv.id;
            return jsonb_build_object('status', 'replayed', 'reply_id', v_reply);
        end if;
    end if;
    if jsonb_typeof(p_turn -> 'usage') = 'object' then
        insert into public.llm_usage (organization_id, agent_id, conversation_id, message_id, model, alias, tokens_in,
                                      tokens_out, cost_usd, latency_ms, fallback_used)
        select v_org, v_conv.agent_id, v_conv.id, (p_turn ->> 'message_id')::uuid, u.model, u.alias, u.tokens_in,
               u.tokens_out, v_cost - v_knowledge_cost, u.latency_ms, u.fallback_used  -- h12turn: chat cost only
        from jsonb_to_record(p_turn -> 'usage') as u(model text, alias text, tokens_in int, tokens_out int,
                                                      latency_ms int, fallback_used boolean);
    end if;
    -- h12turn: the embedding calls of the turn, their own ledger row (same reservation, same cost_usd).
    if jsonb_typeof(p_turn -> 'knowledge_usage') = 'object' then
        insert into public.llm_usage (organization_id, agent_id, conversation_id, message_id, model, alias, tokens_in,
                                      cost_usd, latency_ms)
        select v_org, v_conv.agent_id, v_conv.id, (p_turn ->> 'message_id')::uuid, k.model, k.alias, k.tokens_in,
               v_knowledge_cost, k.latency_ms
        from jsonb_to_record(p_turn -> 'knowledge_usage') as k(model text, alias text, tokens_in int, latency_ms int);
    end if;
    -- h11follow: a follow-up step's turn (follow_ups_message_id_idx): no reply once the lead spoke
    -- after the silence began, nor after a takeover or close (recorded on the step), or when Python
    -- stops the step (p_turn.follow_up_stop).
    select * into v_follow_up from public.follow_ups f
    where f.message_id = (p_turn ->> 'message_id')::uuid and f.conversation_id = v_conv.id;
    if v_follow_up.id is not null then
        select * into v_lead_row from public.leads l where l.id = v_conv.lead_id;
        -- the order of shared.followups.rules.stop_reason: an opt-out, a conversion or a loss that landed
        -- while the step's model was writing (a keyword, a CRM webhook) stops it too
        v_stop := case
            when v_conv.status = 'closed' then 'closed'
            when v_conv.status <> 'bot' then 'taken_over'
            when not v_lead_row.consent then 'opted_out'
            when v_lead_row.stage::text in ('converted', 'lost') then v_lead_row.stage::text
            when exists (select 1 from public.messages m where m.conversation_id = v_conv.id and m.role = 'lead'
                                                          and m.created_at > v_follow_up.anchor_at) then 'lead_replied'
            else p_turn ->> 'follow_up_stop' end;
    end if;
    if v_stop is not null then
        update public.follow_ups f set status = 'stopped', reason = v_stop, finished_at = now()
        where f.conversation_id = v_conv.id and f.anchor_at = v_follow_up.anchor_at
          and (f.id = v_follow_up.id or f.status in ('scheduled', 'paused'));
        update public.messages m set handled_at = now() where m.id = v_follow_up.message_id;
        update public.conversations c set cost_usd = c.cost_usd + v_cost where c.id = v_conv.id;
        return jsonb_build_object('status', 'follow_up_stopped', 'reason', v_stop);
    end if;

    if v_conv.status <> 'bot' then
        update public.conversations c set cost_usd = c.cost_usd + v_cost where c.id = v_conv.id;
        return jsonb_build_object('status', 'taken_over');
    end if;

    if jsonb_typeof(p_turn -> 'reply') = 'object' then
        if v_conv.channel = 'whatsapp' then
            v_reply_status := 'queued';
        else
            v_reply_status := 'sent';
        end if;
        insert into public.messages (organization_id, conversation_id, role, content, status, tokens_in, tokens_out,
                                     cost_usd, model, latency_ms, reply_to, citations)  -- h12turn: citations
        select v_org, v_conv.id, 'assistant', r.content, v_reply_status, r.tokens_in, r.tokens_out, v_cost, r.model,
               r.latency_ms, (p_turn ->> 'message_id')::uuid,
               case when jsonb_array_length(coalesce(r.citations, '[]')) > 0 then r.citations end  -- h12turn
        from jsonb_to_record(p_turn -> 'reply') as r(content text, model text, tokens_in int, tokens_out int,
                                                      latency_ms int, citations jsonb)  -- h12turn: citations
        on conflict (reply_to) where reply_to is not null do nothing
        returning id into v_reply;
        if v_reply is null then
            update public.conversations c set cost_usd = c.cost_usd + v_cost where c.id = v_conv.id;
            return jsonb_build_object('status', 'duplicate');
        end if;
    end if;

    -- h12turn: a question the knowledge base could not answer, for the agent's unanswered list.
    if jsonb_typeof(p_turn -> 'unanswered') = 'object' and v_conv.agent_id is not null then
        insert into public.knowledge_unanswered (organization_id, agent_id, conversation_id, message_id, question)
        values (v_org, v_conv.agent_id, v_conv.id, (p_turn ->> 'message_id')::uuid,
                left(p_turn -> 'unanswered' ->> 'question', 2000))
        on conflict (message_id) do nothing;
    end if;

    update public.messages m set handled_at = now(), status = 'read', error = null
    where m.id in (select value::uuid from jsonb_array_elements_text(p_turn -> 'pending'))
      and m.conversation_id = v_conv.id and m.handled_at is null;
    -- h11follow: the step's message is answered too, so a redelivered follow-up turn calls no model again.
    if v_follow_up.id is not null then  -- h14turn: a lead's own turn has no step
        update public.messages m set handled_at = now() where m.id = v_follow_up.message_id and m.handled_at is null;
    end if;

    if jsonb_typeof(p_turn -> 'message_error') = 'object' then
        update public.messages m set status = 'failed', error = p_turn -> 'message_error'
        where m.id = (p_turn ->> 'message_id')::uuid and m.conversation_id = v_conv.id;
    end if;

    if jsonb_typeof(v_lead) = 'object' then
        update public.leads l set
            name = coalesce(v_lead ->> 'name', l.name),
            email = case when v_lead ->> 'email' is not null and not exists (
                        select 1 from public.leads o where o.organization_id = v_org and o.email = v_lead ->> 'email'
                          and o.id <> l.id) then v_lead ->> 'email' else l.email end,
            phone = case when v_lead ->> 'phone' is not null and not exists (
                        select 1 from public.leads o where o.organization_id = v_org and o.phone = v_lead ->> 'phone'
                          and o.id <> l.id) then v_lead ->> 'phone' else l.phone end,
            qualification = case when jsonb_typeof(v_lead -> 'qualification') = 'object'
                                 then l.qualification || (v_lead -> 'qualification') else l.qualification end,
            score = coalesce((v_lead ->> 'score')::integer, l.score),
            stage = case when app.lead_stage_may_move(l.stage::text, v_lead ->> 'stage')
                         then (v_lead ->> 'stage')::public.lead_stage else l.stage end
        where l.id = v_conv.lead_id;
    end if;

    -- One statement for all events; the statement-level trigger writes their outbox rows in one insert.
    -- h14turn: none when the turn has no event (a statement trigger fires even for no row).
    if jsonb_array_length(p_turn -> 'events') > 0 then
        insert into public.lead_events (organization_id, lead_id, conversation_id, type, from_stage, to_stage, data,
                                        actor)
        select v_org, v_conv.lead_id, v_conv.id, e.type, e.from_stage::public.lead_stage,
               e.to_stage::public.lead_stage, e.data, 'agent'
        from jsonb_to_recordset(p_turn -> 'events') as e(type text, from_stage text, to_stage text, data jsonb);
    end if;

    if jsonb_typeof(p_turn -> 'conversion') = 'object' then
        insert into public.conversions (organization_id, lead_id, conversation_id, agent_id, agent_version, type,
                                        value, currency, source)
        select v_org, v_conv.lead_id, v_conv.id, v_conv.agent_id, v_conv.agent_version, c.type, c.value, c.currency,
               'agent'
        from jsonb_to_record(p_turn -> 'conversion') as c(type text, value numeric, currency text);
    end if;

    update public.conversations c set
        cost_usd = c.cost_usd + v_cost,
        last_message_at = case when v_reply is null then c.last_message_at else now() end,
        status = case p_turn ->> 'conversation_status' when 'human' then 'human' when 'closed' then 'closed'
                 else c.status end,
        closed_at = case when p_turn ->> 'conversation_status' = 'closed' then now() else c.closed_at end
    where c.id = v_conv.id;

    return jsonb_build_object('status', 'ok', 'reply_id', v_reply);
end
$$;

