-- The follow-ups and unanswered-questions reads as PL/pgSQL functions, so their plans are kept per backend
-- (see 20261202100000_cached_read_plans.sql for why, and why this is safe behind a transaction-mode pooler;
-- 20261202100100_cached_list_plans.sql for the keyset condition a kept plan can use on every page).
-- Each runs as its caller: RLS decides, as in the inline statements they replace.

-- The conversation, whether its follow-ups are paused, and its latest p_limit steps, newest first
-- (getFollowUps, and the read-back after changeFollowUps). No row: the conversation is not visible.
create function app.read_follow_ups(p_conversation_id uuid, p_limit integer)
returns table (id uuid, paused boolean, steps jsonb)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select c.id, c.metadata ->> 'follow_ups_paused' = 'true',
           (select coalesce(jsonb_agg(to_jsonb(f) order by f.anchor_at desc, f.step desc), '[]'::jsonb)
            from (
                select f.id, f.step, f.status, f.reason, f.kind, f.due_at, f.finished_at, f.message_id,
                       f.anchor_at, f.time_zone
                from public.follow_ups f
                where f.conversation_id = c.id
                order by f.anchor_at desc, f.step desc
                limit p_limit
            ) f)
    from public.conversations c
    where c.id = p_conversation_id;
end
$$;

-- A page of the agent's unanswered questions, newest first after (p_after_t, p_after_id): p_limit + 1 rows (one
-- more, to know whether more follow). No row: the agent is not visible; one row with a null id: none.
create function app.list_unanswered_questions(p_agent_id uuid, p_after_t timestamptz, p_after_id uuid, p_limit integer)
returns table (
    agent_organization_id uuid, id uuid, conversation_id uuid, message_id uuid, question text, created_at timestamptz
)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select a.organization_id, q.id, q.conversation_id, q.message_id, q.question, q.created_at
    from public.agents a
    left join lateral (
        select x.* from public.knowledge_unanswered x
        where x.agent_id = a.id
          and (x.created_at, x.id) < (coalesce(p_after_t, 'infinity'),
                                      coalesce(p_after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
        order by x.created_at desc, x.id desc
        limit p_limit + 1
    ) q on true
    where a.id = p_agent_id
    order by q.created_at desc, q.id desc;
end
$$;

revoke all on function app.read_follow_ups(uuid, integer),
    app.list_unanswered_questions(uuid, timestamptz, uuid, integer) from public;
grant execute on function app.read_follow_ups(uuid, integer),
    app.list_unanswered_questions(uuid, timestamptz, uuid, integer) to authenticated, service_role;
