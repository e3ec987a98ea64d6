-- Follow-ups (shared/followups): one row per step of a sequence, for one silence of one conversation.
-- Python decides when each step is due (quiet hours, business days, the lead's time zone) and what
-- happens to it (shared/followups/rules.py); SQL stores, claims with SKIP LOCKED, and keeps a step unique.
create table public.follow_ups (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    conversation_id uuid not null,
    lead_id uuid not null,
    step integer not null constraint follow_ups_step_check check (step between 0 and 9),
    -- the silence this step belongs to: the lead's last message (or the conversation's start)
    anchor_at timestamptz not null,
    due_at timestamptz not null,
    time_zone text not null,
    status text not null default 'scheduled'
        constraint follow_ups_status_check
        check (status in ('scheduled', 'claimed', 'sent', 'skipped', 'stopped', 'paused')),
    kind text constraint follow_ups_kind_check check (kind in ('text', 'template', 'model')),
    reason text,
    message_id uuid,
    claims integer not null default 0,
    claimed_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz not null default now(),
    constraint follow_ups_id_organization_key unique (id, organization_id),
    -- a step of a silence exists once: never scheduled, so never sent, twice
    constraint follow_ups_step_key unique (conversation_id, anchor_at, step),
    constraint follow_ups_conversation_fkey foreign key (conversation_id, organization_id)
        references public.conversations (id, organization_id) on delete cascade,
    constraint follow_ups_lead_fkey foreign key (lead_id, organization_id)
        references public.leads (id, organization_id) on delete cascade,
    constraint follow_ups_message_fkey foreign key (message_id, organization_id)
        references public.messages (id, organization_id) on delete set null (message_id)
);
-- The cron's due-rows query: only scheduled rows, in due order.
create index follow_ups_due_idx on public.follow_ups (due_at) where status = 'scheduled';
-- Claims whose job was lost (a crash between claim and enqueue) are claimed again.
create index follow_ups_claimed_idx on public.follow_ups (claimed_at) where status = 'claimed';
create index follow_ups_conversation_idx on public.follow_ups (conversation_id, anchor_at desc, step);
create index follow_ups_lead_sent_idx on public.follow_ups (lead_id, finished_at) where status = 'sent';
create index follow_ups_organization_id_idx on public.follow_ups (organization_id);
create index follow_ups_message_id_idx on public.follow_ups (message_id) where message_id is not null;
comment on table public.follow_ups is
    'Follow-up steps: scheduled, claimed by the cron, then sent, skipped or stopped with a reason (shared/followups).';

alter table public.follow_ups enable row level security;
create policy "members read follow-ups" on public.follow_ups
    for select to authenticated using (organization_id in (select app.my_org_ids()));
revoke all on public.follow_ups from anon, authenticated;
grant select on public.follow_ups to authenticated;
grant all on public.follow_ups to service_role;

-- Conversations whose sequence can start: a bot conversation silent since its anchor, with no step
-- for that silence yet. The lead's last message is found through messages_conversation_id_idx.
create index conversations_bot_activity_idx on public.conversations ((coalesce(last_message_at, created_at)))
    where status = 'bot';

-- An operator pauses (or resumes) or cancels one conversation's follow-ups. Editors and up.
create function public.set_follow_ups(p_conversation_id uuid, p_action text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
    v_conv public.conversations;
    v_changed integer;
begin
    if p_action not in ('pause', 'resume', 'cancel') then
        raise exception 'unknown action %', p_action using errcode = '22023';
    end if;
    select * into v_conv from public.conversations c
    where c.id = p_conversation_id and c.organization_id in (select app.my_org_ids())
    for update;
    if v_conv.id is null then
        raise exception 'conversation not found' using errcode = 'P0002';
    end if;
    if v_conv.organization_id not in (select app.my_org_ids_with_role('editor')) then
        raise exception 'editors and above change follow-ups' using errcode = '42501';
    end if;
    if p_action = 'pause' then
        update public.conversations c
        set metadata = c.metadata || jsonb_build_object('follow_ups_paused', true) where c.id = v_conv.id;
        update public.follow_ups f set status = 'paused', reason = 'paused'
        where f.conversation_id = v_conv.id and f.status = 'scheduled';
    elsif p_action = 'resume' then
        update public.conversations c set metadata = c.metadata - 'follow_ups_paused' where c.id = v_conv.id;
        update public.follow_ups f set status = 'scheduled', reason = null, due_at = greatest(f.due_at, now())
        where f.conversation_id = v_conv.id and f.status = 'paused';
    else
        update public.follow_ups f set status = 'stopped', reason = 'cancelled', finished_at = now()
        where f.conversation_id = v_conv.id and f.status in ('scheduled', 'paused', 'claimed');
    end if;
    get diagnostics v_changed = row_count;
    return jsonb_build_object('conversation_id', v_conv.id, 'action', p_action, 'changed', v_changed);
end
$$;
revoke all on function public.set_follow_ups(uuid, text) from public, anon;
grant execute on function public.set_follow_ups(uuid, text) to authenticated, service_role;
