-- Knowledge in the turn (issue 12, item 3): citations on replies, unanswered questions, and the turn
-- contract's two functions taught about both.
--
-- messages.citations: on an assistant reply that used the knowledge base, the chunks it cites with the
-- source (document) and the version they belong to: [{chunk_id, document_id, version}]. Written by
-- app.finish_turn only; members read it with the message (API and Realtime payload).
--
-- knowledge_unanswered: a lead's question that nothing in the agent's sources answered (nothing passed
-- the retrieval threshold), so the agent said it did not know and offered a person. Members read;
-- only app.finish_turn writes. One row per lead message at most.
--
-- app.begin_turn returns `knowledge` ({embedding_model}) when the agent has an indexed source (the
-- cheap check: an exists on knowledge_documents); app.finish_turn stores the reply's citations, the
-- unanswered question, and the embedding calls' ledger row. Both bodies are the ones of
-- 20261130200100_one_rule_one_place.sql with every change marked `-- h12turn:`.

alter table public.messages add column citations jsonb
    constraint messages_citations_check check (citations is null or jsonb_typeof(citations) = 'array');

create table public.knowledge_unanswered (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    agent_id uuid not null,
    conversation_id uuid not null,
    message_id uuid not null,
    question text not null constraint knowledge_unanswered_question_check check (length(question) between 1 and 2000),
    created_at timestamptz not null default now(),
    constraint knowledge_unanswered_message_key unique (message_id),
    constraint knowledge_unanswered_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete cascade,
    constraint knowledge_unanswered_conversation_fkey foreign key (conversation_id, organization_id)
        references public.conversations (id, organization_id) on delete cascade,
    constraint knowledge_unanswered_message_fkey foreign key (message_id, organization_id)
        references public.messages (id, organization_id) on delete cascade
);
-- The list's order and cursor: newest first per agent.
create index knowledge_unanswered_agent_created_idx
    on public.knowledge_unanswered (agent_id, created_at desc, id desc);
create index knowledge_unanswered_organization_id_idx on public.knowledge_unanswered (organization_id);
create index knowledge_unanswered_conversation_id_idx on public.knowledge_unanswered (conversation_id);

alter table public.knowledge_unanswered enable row level security;
create policy "members read unanswered questions" on public.knowledge_unanswered
    for select to authenticated using (organization_id in (select app.my_org_ids()));
revoke all on public.knowledge_unanswered from public, anon, authenticated;
grant select on public.knowledge_unanswered to authenticated;
grant select, insert, delete on public.knowledge_unanswered to service_role;

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
                                       'consent', v_lead.consent),
        'knowledge', v_knowledge  -- h12turn
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
    -- h12turn: what embedding the question (and any search_knowledge call) cost; part of cost_usd.
    v_knowledge_cost numeric := coalesce((p_turn -> 'knowledge_usage' ->> 'cost_usd')::numeric, 0);
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

