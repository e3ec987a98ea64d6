-- Model turns: budget reservations, and the two statements a worker runs per turn
-- (app.begin_turn before the model call, app.finish_turn after it), so a turn costs two
-- database round trips. Both are for the service path only (workers), never for users.

alter table public.messages
    add column handled_at timestamptz,
    add column reply_to uuid references public.messages (id) on delete set null;
comment on column public.messages.handled_at is 'When a bot turn answered this lead message (or decided not to).';
comment on column public.messages.reply_to is 'The lead message an assistant reply answers; unique, so a redelivered turn cannot reply twice.';
create unique index messages_reply_to_key on public.messages (reply_to) where reply_to is not null;
create index messages_unhandled_idx on public.messages (conversation_id, created_at)
    where role = 'lead' and handled_at is null;

create table public.budget_reservations (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    conversation_id uuid,
    budget_ids uuid[] not null default '{}',
    alias text not null,
    amount_usd numeric(14, 6) not null constraint budget_reservations_amount_usd_check check (amount_usd >= 0),
    settled_usd numeric(14, 6),
    status text not null default 'reserved'
        constraint budget_reservations_status_check check (status in ('reserved', 'settled', 'released')),
    expires_at timestamptz not null default now() + interval '10 minutes',
    created_at timestamptz not null default now(),
    constraint budget_reservations_conversation_fkey foreign key (conversation_id, organization_id)
        references public.conversations (id, organization_id) on delete set null (conversation_id)
);
create index budget_reservations_organization_id_idx on public.budget_reservations (organization_id);
create index budget_reservations_conversation_id_idx on public.budget_reservations (conversation_id);
create index budget_reservations_open_idx on public.budget_reservations (expires_at) where status = 'reserved';
comment on table public.budget_reservations is
    'Reserve before a model call, settle at the real cost after it, release on failure; expired ones are swept.';

alter table public.budget_reservations enable row level security;
create policy "members read reservations" on public.budget_reservations
    for select to authenticated using (organization_id in (select app.my_org_ids()));
revoke insert, update, delete on public.budget_reservations from authenticated;
revoke all on public.budget_reservations from anon;

-- Reserve `p_amount` on every budget that covers the conversation's agent (the organization's and
-- the agent's own), atomically: the rows are locked in a fixed order, so concurrent turns queue up
-- and none can spend what another has reserved. Returns the reservation id, or null when it won't fit.
create function app.reserve_budget(
    p_organization_id uuid, p_agent_id uuid, p_conversation_id uuid, p_alias text, p_amount numeric
) returns uuid
language plpgsql set search_path = '' as $$
declare
    v_month date := date_trunc('month', now())::date;
    v_ids uuid[];
    v_fits boolean;
    v_reservation uuid;
begin
    -- A new month starts from zero; reservations from last month are dropped with it.
    update public.budgets b set spent_usd = 0, reserved_usd = 0, period_start = v_month
    where b.organization_id = p_organization_id and (b.agent_id is null or b.agent_id = p_agent_id)
      and b.period_start < v_month;

    select array_agg(b.id order by b.agent_id nulls first, b.id),
           coalesce(bool_and(b.spent_usd + b.reserved_usd + p_amount <= b.monthly_limit_usd), true)
      into v_ids, v_fits
    from (
        select * from public.budgets b
        where b.organization_id = p_organization_id and (b.agent_id is null or b.agent_id = p_agent_id)
        order by b.agent_id nulls first, b.id
        for update
    ) b;

    if not v_fits then
        return null;
    end if;
    -- The per-conversation cap: turns of one conversation never overlap (one FIFO group each).
    if exists (
        select 1 from public.budgets b join public.conversations c on c.id = p_conversation_id
        where b.organization_id = p_organization_id and b.agent_id is null
          and b.per_conversation_limit_usd is not null
          and c.cost_usd + p_amount > b.per_conversation_limit_usd
    ) then
        return null;
    end if;

    update public.budgets b set reserved_usd = b.reserved_usd + p_amount where b.id = any (coalesce(v_ids, '{}'));
    insert into public.budget_reservations (organization_id, conversation_id, budget_ids, alias, amount_usd)
    values (p_organization_id, p_conversation_id, coalesce(v_ids, '{}'), p_alias, p_amount)
    returning id into v_reservation;
    return v_reservation;
end
$$;

-- Settle at the real cost (p_actual), or release (p_actual null). Idempotent: only an open
-- reservation moves money, so a retried settle or a sweep after a settle changes nothing.
create function app.settle_budget(p_reservation_id uuid, p_actual numeric) returns boolean
language plpgsql set search_path = '' as $$
declare
    v_res public.budget_reservations;
begin
    update public.budget_reservations r
    set status = case when p_actual is null then 'released' else 'settled' end, settled_usd = p_actual
    where r.id = p_reservation_id and r.status = 'reserved'
    returning * into v_res;
    if v_res.id is null then
        return false;
    end if;
    update public.budgets b
    set reserved_usd = greatest(b.reserved_usd - v_res.amount_usd, 0),
        spent_usd = b.spent_usd + coalesce(p_actual, 0)
    where b.id = any (v_res.budget_ids) and b.period_start = date_trunc('month', v_res.created_at)::date;
    return true;
end
$$;

-- Release reservations whose worker died before settling (a cron calls this).
create function app.release_expired_reservations() returns integer
language plpgsql set search_path = '' as $$
declare
    v_id uuid;
    v_count integer := 0;
begin
    for v_id in
        select r.id from public.budget_reservations r
        where r.status = 'reserved' and r.expires_at < now()
        order by r.id for update skip locked
    loop
        perform app.settle_budget(v_id, null);
        v_count := v_count + 1;
    end loop;
    return v_count;
end
$$;

-- Everything a turn needs, in one statement: the conversation, its pinned agent version, the lead,
-- recent history and the unanswered lead messages; then a budget reservation for the agent's model
-- alias (or its fallback alias). p_pricing maps alias -> {"in": usd/token, "out": usd/token}.
create function app.begin_turn(
    p_message_id uuid, p_history_limit integer, p_max_output_tokens integer, p_pricing jsonb
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
    v_candidate text;
    v_budget public.budgets;
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
        return jsonb_build_object('status', 'not_bot', 'conversation_status', v_conv.status);
    end if;
    select v.config into v_config from public.agent_versions v
    where v.agent_id = v_conv.agent_id and v.version = v_conv.agent_version;
    select * into v_lead from public.leads l where l.id = v_conv.lead_id;

    select coalesce(jsonb_agg(jsonb_build_object('id', h.id, 'role', h.role, 'content', h.content,
                                                 'content_type', h.content_type, 'payload', h.payload)
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
    -- The rolling summary: what the lead said before the history window, oldest first, each line
    -- capped, so a long conversation keeps its early facts without growing the prompt unbounded.
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

    -- Prompt tokens are bounded by characters / 3 (any tokenizer gives fewer) plus the system prompt.
    foreach v_candidate in array array[coalesce(v_config ->> 'model', 'fast'), coalesce(v_config ->> 'fallback_model', 'fast')]
    loop
        continue when p_pricing -> v_candidate is null or v_candidate = v_alias;
        v_estimate := round(
            ((v_chars + length(v_config::text) + 2000) / 3.0) * (p_pricing -> v_candidate ->> 'in')::numeric
            + p_max_output_tokens * (p_pricing -> v_candidate ->> 'out')::numeric, 6);
        v_reservation := app.reserve_budget(v_conv.organization_id, v_conv.agent_id, v_conv.id, v_candidate, v_estimate);
        v_alias := v_candidate;
        exit when v_reservation is not null;
        exit when coalesce(v_config ->> 'on_budget_exhausted', 'fallback') <> 'fallback';
    end loop;

    select * into v_budget from public.budgets b where b.organization_id = v_conv.organization_id and b.agent_id is null;
    return jsonb_build_object(
        'status', case when v_reservation is null then 'budget_exhausted' else 'ok' end,
        'organization_id', v_conv.organization_id,
        'conversation', jsonb_build_object('id', v_conv.id, 'channel', v_conv.channel, 'status', v_conv.status,
                                           'agent_id', v_conv.agent_id, 'agent_version', v_conv.agent_version,
                                           'summary', nullif(concat_ws(E'\n', v_conv.summary,
                                               'Earlier, the lead said: ' || v_earlier), ''),
                                           'cost_usd', v_conv.cost_usd),
        'config', v_config,
        'lead', to_jsonb(v_lead),
        'history', v_history,
        'pending', v_pending,
        'alias', v_alias,
        'reservation_id', v_reservation,
        'reserved_usd', case when v_reservation is null then null else v_estimate end,
        'budget', case when v_budget.id is null then null else jsonb_build_object(
            'limit_usd', v_budget.monthly_limit_usd, 'spent_usd', v_budget.spent_usd,
            'alert_threshold', v_budget.alert_threshold) end
    );
end
$$;

-- Apply one turn's outcome atomically. p_turn:
--   {organization_id, conversation_id, message_id, pending: [ids], reservation_id, cost_usd,
--    reply: {content, model, tokens_in, tokens_out, latency_ms} | null,
--    usage: {model, alias, tokens_in, tokens_out, latency_ms, fallback_used, status, error} | null,
--    lead: {name?, email?, phone?, qualification?: {}, score?, stage?} | null,
--    events: [{type, from_stage?, to_stage?, data?}], conversion: {type, value, currency} | null,
--    conversation_status: 'human' | 'closed' | null, message_error: {problem+json} | null}
-- The human-takeover check happens here, under the conversation's row lock, just before the reply
-- is written: if a human took over while the model ran, no AI reply is stored (or sent).
create function app.finish_turn(p_turn jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_org uuid := (p_turn ->> 'organization_id')::uuid;
    v_conv public.conversations;
    v_reply uuid;
    v_cost numeric := coalesce((p_turn ->> 'cost_usd')::numeric, 0);
    v_lead jsonb := p_turn -> 'lead';
    v_lead_id uuid;
    v_status text := 'ok';
begin
    select * into v_conv from public.conversations c
    where c.id = (p_turn ->> 'conversation_id')::uuid and c.organization_id = v_org
    for update;

    if p_turn ->> 'reservation_id' is not null then
        perform app.settle_budget((p_turn ->> 'reservation_id')::uuid, v_cost);
    end if;
    if p_turn -> 'usage' is not null and jsonb_typeof(p_turn -> 'usage') = 'object' then
        insert into public.llm_usage (organization_id, agent_id, conversation_id, message_id, model, alias, tokens_in,
                                      tokens_out, cost_usd, latency_ms, fallback_used, status, error)
        select v_org, v_conv.agent_id, v_conv.id, (p_turn ->> 'message_id')::uuid, u.model, u.alias,
               coalesce(u.tokens_in, 0), coalesce(u.tokens_out, 0), v_cost, coalesce(u.latency_ms, 0),
               coalesce(u.fallback_used, false), coalesce(u.status, 'ok'), u.error
        from jsonb_to_record(p_turn -> 'usage') as u(model text, alias text, tokens_in int, tokens_out int,
                                                      latency_ms int, fallback_used boolean, status text, error text);
    end if;
    if v_conv.status <> 'bot' then
        update public.conversations c set cost_usd = c.cost_usd + v_cost where c.id = v_conv.id;
        return jsonb_build_object('status', 'taken_over');
    end if;

    if p_turn -> 'reply' is not null and jsonb_typeof(p_turn -> 'reply') = 'object' then
        insert into public.messages (organization_id, conversation_id, role, content, status, tokens_in, tokens_out,
                                     cost_usd, model, latency_ms, reply_to)
        select v_org, v_conv.id, 'assistant', r.content,
               case when v_conv.channel = 'whatsapp' then 'queued' else 'sent' end::public.message_status,
               r.tokens_in, r.tokens_out, v_cost, r.model, r.latency_ms, (p_turn ->> 'message_id')::uuid
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
    where m.id in (select value::uuid from jsonb_array_elements_text(coalesce(p_turn -> 'pending', '[]'::jsonb)))
      and m.conversation_id = v_conv.id and m.handled_at is null;

    if jsonb_typeof(p_turn -> 'message_error') = 'object' then
        update public.messages m set status = 'failed', error = p_turn -> 'message_error'
        where m.id = (p_turn ->> 'message_id')::uuid and m.conversation_id = v_conv.id;
    end if;

    v_lead_id := v_conv.lead_id;
    if v_lead is not null and jsonb_typeof(v_lead) = 'object' then
        update public.leads l set
            name = coalesce(v_lead ->> 'name', l.name),
            email = case when v_lead ? 'email' and not exists (
                        select 1 from public.leads o where o.organization_id = v_org and o.email = v_lead ->> 'email'
                          and o.id <> l.id) then v_lead ->> 'email' else l.email end,
            phone = case when v_lead ? 'phone' and not exists (
                        select 1 from public.leads o where o.organization_id = v_org and o.phone = v_lead ->> 'phone'
                          and o.id <> l.id) then v_lead ->> 'phone' else l.phone end,
            qualification = l.qualification || coalesce(v_lead -> 'qualification', '{}'::jsonb),
            score = coalesce((v_lead ->> 'score')::integer, l.score),
            stage = coalesce((v_lead ->> 'stage')::public.lead_stage, l.stage)
        where l.id = v_lead_id;
    end if;

    insert into public.lead_events (organization_id, lead_id, conversation_id, type, from_stage, to_stage, data, actor)
    select v_org, v_lead_id, v_conv.id, e.type, e.from_stage::public.lead_stage, e.to_stage::public.lead_stage,
           coalesce(e.data, '{}'::jsonb), 'agent'
    from jsonb_to_recordset(coalesce(p_turn -> 'events', '[]'::jsonb))
        as e(type text, from_stage text, to_stage text, data jsonb);

    if p_turn -> 'conversion' is not null and jsonb_typeof(p_turn -> 'conversion') = 'object' then
        insert into public.conversions (organization_id, lead_id, conversation_id, agent_id, agent_version, type,
                                        value, currency, source)
        select v_org, v_lead_id, v_conv.id, v_conv.agent_id, v_conv.agent_version, c.type, coalesce(c.value, 0),
               coalesce(c.currency, 'BRL'), 'agent'
        from jsonb_to_record(p_turn -> 'conversion') as c(type text, value numeric, currency text);
    end if;

    update public.conversations c set
        cost_usd = c.cost_usd + v_cost,
        last_message_at = case when v_reply is null then c.last_message_at else now() end,
        status = coalesce((p_turn ->> 'conversation_status')::public.conversation_status, c.status),
        closed_at = case when p_turn ->> 'conversation_status' = 'closed' then now() else c.closed_at end
    where c.id = v_conv.id;

    return jsonb_build_object('status', v_status, 'reply_id', v_reply);
end
$$;

-- A turn that could not complete (every model down): release its reservation and mark the lead
-- message failed, keeping it unhandled so the queue's redelivery (then the DLQ) retries it.
create function app.fail_turn(p_message_id uuid, p_reservation_id uuid, p_error jsonb) returns void
language plpgsql set search_path = '' as $$
begin
    if p_reservation_id is not null then
        perform app.settle_budget(p_reservation_id, null);
    end if;
    update public.messages m set status = 'failed', error = p_error
    where m.id = p_message_id and m.handled_at is null;
end
$$;

revoke all on function app.reserve_budget(uuid, uuid, uuid, text, numeric), app.settle_budget(uuid, numeric),
    app.release_expired_reservations(), app.begin_turn(uuid, integer, integer, jsonb), app.finish_turn(jsonb),
    app.fail_turn(uuid, uuid, jsonb)
    from public;
grant execute on function app.reserve_budget(uuid, uuid, uuid, text, numeric), app.settle_budget(uuid, numeric),
    app.release_expired_reservations(), app.begin_turn(uuid, integer, integer, jsonb), app.finish_turn(jsonb),
    app.fail_turn(uuid, uuid, jsonb)
    to service_role;
