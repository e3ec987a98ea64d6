"""The follow-up SQL: plan a silence's first step, claim due steps, lock one for its worker, record the result.

No decisions here (``shared/followups/rules.py`` makes them); every time is handed in (``now``), so
the cron and the worker run on a controllable clock in tests.
"""

from __future__ import annotations

# Bot conversations active since ``since`` whose current silence has no step yet, and no lead
# message waiting for an answer. The anchor is the lead's last message, else the conversation's start.
# A paused conversation's step is planned too (paused), so resuming it needs no new activity. The
# active conversations come first, from conversations_bot_activity_idx (materialized: the planner
# otherwise may walk every lead and probe its conversations, rows it then throws away).
CANDIDATES = """
    with active as materialized (
        select c.id, c.organization_id, c.lead_id, c.agent_id, c.agent_version, c.metadata, c.created_at,
               coalesce(c.last_message_at, c.created_at) as active_at
        from public.conversations c
        where c.status = 'bot' and coalesce(c.last_message_at, c.created_at) > %(since)s
    )
    select c.id as conversation_id, c.organization_id, c.lead_id, l.phone, o.settings ->> 'timezone' as org_zone,
           v.config -> 'follow_up' as policy, a.anchor_at,
           (c.metadata ->> 'follow_ups_paused') is not distinct from 'true' as paused,
           exists (select 1 from public.follow_ups p where p.conversation_id = c.id) as had_sequence
    from active c
    join public.agent_versions v on v.agent_id = c.agent_id and v.version = c.agent_version
    join public.leads l on l.id = c.lead_id
    join public.organizations o on o.id = c.organization_id
    cross join lateral (
        select coalesce((select m.created_at from public.messages m
                         where m.conversation_id = c.id and m.role = 'lead'
                         order by m.created_at desc limit 1), c.created_at) as anchor_at
    ) a
    where (v.config -> 'follow_up' ->> 'enabled') = 'true'
      and not exists (select 1 from public.follow_ups f where f.conversation_id = c.id and f.anchor_at >= a.anchor_at)
      and not exists (select 1 from public.messages u
                      where u.conversation_id = c.id and u.role = 'lead' and u.handled_at is null)
    order by c.active_at
    limit %(limit)s
"""
# The planner's watermark (app.cron_watermarks): its last complete pass. Set, not maxed: a clock that
# went back (a test's simulated week) only makes the next pass look further back.
WATERMARK = "select w.at from app.cron_watermarks w where w.name = 'follow_up_planner'"
ADVANCE_WATERMARK = """
    insert into app.cron_watermarks (name, at) values ('follow_up_planner', %(now)s)
    on conflict (name) do update set at = excluded.at
"""
INSERT_STEPS = """
    insert into public.follow_ups (organization_id, conversation_id, lead_id, step, anchor_at, due_at, time_zone,
                                   status, reason, finished_at, created_at)
    select s.organization_id, s.conversation_id, s.lead_id, s.step, s.anchor_at, s.due_at, s.time_zone,
           s.status, s.reason, s.finished_at, %(now)s
    from jsonb_to_recordset(%(steps)s::jsonb) as s(organization_id uuid, conversation_id uuid, lead_id uuid,
         step integer, anchor_at timestamptz, due_at timestamptz, time_zone text, status text, reason text,
         finished_at timestamptz)
    on conflict (conversation_id, anchor_at, step) do nothing
"""
# Due steps, and steps whose claim is older than ``stale`` (the job was lost), oldest first.
CLAIM = """
    with due as (
        select f.id from public.follow_ups f
        where f.status = 'scheduled' and f.due_at <= %(now)s
        order by f.due_at limit %(limit)s for update skip locked
    ), lost as (
        select f.id from public.follow_ups f
        where f.status = 'claimed' and f.claimed_at < %(stale)s
        order by f.claimed_at limit %(limit)s for update skip locked
    )
    update public.follow_ups f set status = 'claimed', claimed_at = %(now)s, claims = f.claims + 1
    where f.id in (select id from due union all select id from lost)
    returning f.id, f.conversation_id, f.claims
"""
# The conversation's row first (the lock finish_turn and a takeover take), then the step's.
LOCK = """
    select c.id as conversation_id, c.organization_id, c.status::text as conversation_status,
           c.channel::text as channel, coalesce(c.window_expires_at > %(now)s, false) as window_open,
           (c.metadata ->> 'follow_ups_paused') is not distinct from 'true' as paused,
           v.config as config
    from public.conversations c
    join public.agent_versions v on v.agent_id = c.agent_id and v.version = c.agent_version
    where c.id = (select f.conversation_id from public.follow_ups f where f.id = %(id)s)
    for update of c
"""
STATE = """
    select f.id, f.status, f.step, f.anchor_at, f.time_zone, f.lead_id, l.consent, l.stage::text as stage,
           l.name as lead_name,
           (select max(m.created_at) from public.messages m
            where m.conversation_id = f.conversation_id and m.role = 'lead') as last_lead_at,
           (select count(*) from public.follow_ups s
            where s.lead_id = f.lead_id and s.status = 'sent' and s.finished_at > %(period_start)s) as sent_in_period,
           coalesce((select b.monthly_limit_usd > b.spent_usd + b.reserved_usd from public.budgets b
                     where b.organization_id = f.organization_id and b.agent_id is null), true) as budget_left
    from public.follow_ups f join public.leads l on l.id = f.lead_id
    where f.id = %(id)s
    for update of f
"""
FINISH = """
    update public.follow_ups f
    set status = %(status)s, reason = %(reason)s, kind = %(kind)s, message_id = %(message_id)s,
        finished_at = %(now)s
    where f.id = %(id)s
"""
RESCHEDULE = "update public.follow_ups f set status = 'scheduled', due_at = %(due)s where f.id = %(id)s"
INSERT_MESSAGE = """
    insert into public.messages (organization_id, conversation_id, role, content, status, payload, created_at)
    values (%(org)s, %(conversation)s, %(role)s, %(content)s, %(status)s, %(payload)s::jsonb, %(now)s)
    returning id
"""
# A model-written step's turn found a human or a closed conversation before it began (app.begin_turn's
# not_bot): nothing was written, so the step, recorded sent when it was queued, is stopped instead.
STOP_UNANSWERED = """
    update public.follow_ups f
    set status = 'stopped', reason = case c.status when 'closed' then 'closed' else 'taken_over' end,
        finished_at = now()
    from public.conversations c
    where f.message_id = %s and f.status = 'sent' and c.id = f.conversation_id and c.status <> 'bot'
    returning f.id
"""
