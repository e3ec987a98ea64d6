-- One rule, one place. Python decides (shared/leads/stages.py, shared/crm/jobs.py,
-- shared/conversations/statuses.py, shared/turns/budget.py, shared/turns/estimate.py); SQL writes
-- the decision atomically and, where it must guard an invariant for every writer, checks the same
-- rule as a reference table seeded from Python (tests/integration/db/test_reference_tables.py
-- keeps them equal). A change to a rule is a change to its Python module plus a migration that
-- reseeds its table.

-- 1. Reference tables: global rules, not tenant data (no organization_id, no RLS, schema app).
create table app.lead_stage_moves (
    from_stage text not null,
    to_stage text not null,
    primary key (from_stage, to_stage)
);
comment on table app.lead_stage_moves is 'The moves shared.leads.stages.can_move allows; checked by a trigger on leads.';
insert into app.lead_stage_moves (from_stage, to_stage) values
    ('new', 'engaged'), ('new', 'qualified'), ('new', 'handed_off'), ('new', 'converted'), ('new', 'lost'),
    ('engaged', 'qualified'), ('engaged', 'handed_off'), ('engaged', 'converted'), ('engaged', 'lost'),
    ('qualified', 'handed_off'), ('qualified', 'converted'), ('qualified', 'lost'),
    ('handed_off', 'converted'), ('handed_off', 'lost'),
    ('lost', 'engaged'), ('lost', 'qualified');

create table app.crm_step_ranks (step text primary key, rank integer not null);
comment on table app.crm_step_ranks is 'shared.crm.jobs.STEP_RANK: how far a deal has moved; a deal never moves back.';
insert into app.crm_step_ranks (step, rank) values ('qualified', 1), ('handoff', 2), ('converted', 3), ('lost', 3);

create table app.message_status_ranks (status text primary key, rank integer not null);
comment on table app.message_status_ranks is 'shared.conversations.statuses.MESSAGE_STATUS_RANK: statuses only move forward.';
insert into app.message_status_ranks (status, rank) values
    ('received', 0), ('queued', 1), ('sent', 2), ('delivered', 3), ('read', 4), ('failed', 5);

revoke all on app.lead_stage_moves, app.crm_step_ranks, app.message_status_ranks from public, anon, authenticated;
grant select on app.lead_stage_moves, app.crm_step_ranks, app.message_status_ranks to service_role;

create or replace function app.message_status_rank(p_status text) returns integer
language sql stable security definer set search_path = '' as $$
    select r.rank from app.message_status_ranks r where r.status = p_status
$$;

-- 2. A lead's stage moves only as app.lead_stage_moves allows, whoever writes it.
create function app.lead_stage_may_move(p_from text, p_to text) returns boolean
language sql stable security definer set search_path = '' as $$
    select exists (select 1 from app.lead_stage_moves m where m.from_stage = p_from and m.to_stage = p_to)
$$;
create function app.guard_lead_stage() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if new.stage is distinct from old.stage and not app.lead_stage_may_move(old.stage::text, new.stage::text) then
        raise exception 'a lead cannot move from stage % to %', old.stage, new.stage using errcode = '23514';
    end if;
    return new;
end
$$;
create trigger leads_guard_stage before update of stage on public.leads
    for each row execute function app.guard_lead_stage();
revoke all on function app.lead_stage_may_move(text, text), app.guard_lead_stage() from public, anon;
grant execute on function app.lead_stage_may_move(text, text) to service_role, authenticated;

-- 3. A CRM outcome moves the lead's stage only where the stage rule allows it: a CRM "won" on a
--    lost lead records the conversion and leaves the stage (can_move refuses lost -> converted).
create or replace function app.record_crm_outcome(
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
    v_to text := case p_outcome when 'won' then 'converted' when 'lost' then 'lost' end;
    v_moves boolean;
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

    v_moves := app.lead_stage_may_move(v_lead.stage::text, v_to);
    if p_outcome = 'lost' and not v_moves then
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

    if v_moves then
        update public.leads l set stage = v_to::public.lead_stage where l.id = v_lead.id;
    end if;
    insert into public.lead_events (organization_id, lead_id, conversation_id, type, from_stage, to_stage, data, actor)
    values (v_lead.organization_id, v_lead.id, v_conversation.id,
            case p_outcome when 'won' then 'conversion.created' else 'lead.lost' end,
            case when v_moves then v_lead.stage end, case when v_moves then v_to::public.lead_stage end,
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

-- 4. The budget-exhaustion policy is the agent's (AgentConfig.on_budget_exhausted, decided in
--    shared/turns/budget.py); the budget row's own copy was never read.
alter table public.budgets drop column on_exhausted;
drop type public.budget_exhausted_action;

-- 5. The turn contract. begin_turn loads what the turn uses and reserves for the agent's own alias
--    (p_default_alias when the config names none: AgentConfig's default, passed by Python), costed
--    with shared/turns/estimate.py's coefficients: prompt characters * per_char + fixed. When that
--    does not fit it reserves nothing; Python decides what follows.
drop function app.begin_turn(uuid, integer, integer, jsonb);
create function app.begin_turn(
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

    v_chars := v_chars + length(v_config::text) + coalesce(length(v_earlier), 0);
    v_alias := coalesce(v_config ->> 'model', p_default_alias);
    if p_coefficients -> v_alias is not null then
        v_estimate := round(v_chars * (p_coefficients -> v_alias ->> 'per_char')::numeric
                            + (p_coefficients -> v_alias ->> 'fixed')::numeric, 6);
        v_reservation := app.reserve_budget(v_conv.organization_id, v_conv.agent_id, v_conv.id, v_alias, v_estimate);
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
                                       'consent', v_lead.consent)
    );
end
$$;

-- Apply one turn's outcome (shared/turns/outcome.py: TurnOutcome) atomically. The human-takeover
-- check happens here, under the conversation's row lock, just before the reply is written: if a
-- human took over while the model ran, no AI reply is stored (or sent). No policy here: a stage
-- moves only where app.lead_stage_moves allows it from the stage the lead has now.
create or replace function app.finish_turn(p_turn jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_org uuid := (p_turn ->> 'organization_id')::uuid;
    v_conv public.conversations;
    v_reply uuid;
    v_reply_status public.messages.status%type;
    v_cost numeric := (p_turn ->> 'cost_usd')::numeric;
    v_lead jsonb := p_turn -> 'lead';
begin
    select * into v_conv from public.conversations c
    where c.id = (p_turn ->> 'conversation_id')::uuid and c.organization_id = v_org
    for update;

    if p_turn ->> 'reservation_id' is not null then
        perform app.settle_budget((p_turn ->> 'reservation_id')::uuid,
                                  case when p_turn ->> 'settle' = 'release' then null else v_cost end);
    end if;
    if jsonb_typeof(p_turn -> 'usage') = 'object' then
        insert into public.llm_usage (organization_id, agent_id, conversation_id, message_id, model, alias, tokens_in,
                                      tokens_out, cost_usd, latency_ms, fallback_used)
        select v_org, v_conv.agent_id, v_conv.id, (p_turn ->> 'message_id')::uuid, u.model, u.alias, u.tokens_in,
               u.tokens_out, v_cost, u.latency_ms, u.fallback_used
        from jsonb_to_record(p_turn -> 'usage') as u(model text, alias text, tokens_in int, tokens_out int,
                                                      latency_ms int, fallback_used boolean);
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
                                     cost_usd, model, latency_ms, reply_to)
        select v_org, v_conv.id, 'assistant', r.content, v_reply_status, r.tokens_in, r.tokens_out, v_cost, r.model,
               r.latency_ms, (p_turn ->> 'message_id')::uuid
        from jsonb_to_record(p_turn -> 'reply') as r(content text, model text, tokens_in int, tokens_out int,
                                                      latency_ms int)
        on conflict (reply_to) where reply_to is not null do nothing
        returning id into v_reply;
        if v_reply is null then
            update public.conversations c set cost_usd = c.cost_usd + v_cost where c.id = v_conv.id;
            return jsonb_build_object('status', 'duplicate');
        end if;
    end if;

    update public.messages m set handled_at = now(), status = 'read', error = null
    where m.id in (select value::uuid from jsonb_array_elements_text(p_turn -> 'pending'))
      and m.conversation_id = v_conv.id and m.handled_at is null;

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
    insert into public.lead_events (organization_id, lead_id, conversation_id, type, from_stage, to_stage, data, actor)
    select v_org, v_conv.lead_id, v_conv.id, e.type, e.from_stage::public.lead_stage, e.to_stage::public.lead_stage,
           e.data, 'agent'
    from jsonb_to_recordset(p_turn -> 'events') as e(type text, from_stage text, to_stage text, data jsonb);

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

revoke all on function app.begin_turn(uuid, integer, text, jsonb) from public, anon, authenticated;
grant execute on function app.begin_turn(uuid, integer, text, jsonb) to service_role;

-- 6. Outbox rows set-based: one insert per statement (transition tables), whoever writes the rows.
drop trigger lead_events_to_outbox on public.lead_events;
drop trigger conversions_to_outbox on public.conversions;
drop trigger messages_to_outbox on public.messages;
drop function app.lead_event_to_outbox(), app.conversion_to_outbox(), app.message_to_outbox();

create function app.lead_events_to_outbox() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    insert into public.event_outbox (organization_id, type, payload)
    select n.organization_id, n.type::public.event_type, jsonb_strip_nulls(jsonb_build_object(
               'lead_id', n.lead_id, 'conversation_id', n.conversation_id, 'from_stage', n.from_stage,
               'to_stage', n.to_stage, 'actor', n.actor, 'lead_event_id', n.id) || n.data)
    from new_rows n
    where n.type in ('lead.updated', 'lead.qualified', 'handoff.requested', 'conversation.closed');
    return null;
end
$$;
create trigger lead_events_to_outbox after insert on public.lead_events
    referencing new table as new_rows for each statement execute function app.lead_events_to_outbox();

create function app.conversions_to_outbox() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    insert into public.event_outbox (organization_id, type, payload)
    select n.organization_id, 'conversion.created', jsonb_strip_nulls(jsonb_build_object(
               'conversion_id', n.id, 'lead_id', n.lead_id, 'conversation_id', n.conversation_id,
               'agent_id', n.agent_id, 'agent_version', n.agent_version, 'type', n.type, 'value', n.value,
               'currency', n.currency, 'source', n.source))
    from new_rows n;
    return null;
end
$$;
create trigger conversions_to_outbox after insert on public.conversions
    referencing new table as new_rows for each statement execute function app.conversions_to_outbox();

-- message.created for what people said (lead, assistant, human), not for system notes.
create function app.messages_to_outbox() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    insert into public.event_outbox (organization_id, type, payload)
    select n.organization_id, 'message.created', jsonb_build_object(
               'message_id', n.id, 'conversation_id', n.conversation_id, 'role', n.role,
               'content', n.content, 'content_type', n.content_type, 'created_at', n.created_at)
    from new_rows n
    where n.role in ('lead', 'assistant', 'human');
    return null;
end
$$;
create trigger messages_to_outbox after insert on public.messages
    referencing new table as new_rows for each statement execute function app.messages_to_outbox();

revoke all on function app.lead_events_to_outbox(), app.conversions_to_outbox(), app.messages_to_outbox()
    from public;
