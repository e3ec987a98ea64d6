-- WhatsApp sends with bounded retries: each transient failure counts an attempt on the message;
-- the last one (or a refusal) fails the message with its problem and puts message.failed in the
-- outbox, in the same transaction. Python (shared/whatsapp/retries.py) decides when to retry;
-- these functions only write the result atomically.

alter type public.event_type add value if not exists 'message.failed';

alter table public.messages
    add column send_attempts smallint not null default 0,
    add column send_next_at timestamptz;
comment on column public.messages.send_attempts is
    'Send attempts that failed transiently, plus sweeps that re-sent a lost job; bounded by the worker.';
comment on column public.messages.send_next_at is
    'When the send job waiting out a failure runs again; a queued message untouched well past it lost its job.';

-- A transient failure: release the claim, count the attempt and note when the job runs again.
create function app.retry_send(p_message_id uuid, p_delay_seconds integer) returns integer
language sql set search_path = '' as $$
    update public.messages m set send_claimed_at = null, send_attempts = m.send_attempts + 1,
        send_next_at = now() + make_interval(secs => p_delay_seconds)
    where m.id = p_message_id and m.status = 'queued'
    returning m.send_attempts
$$;

-- The message will not be sent: failed with its problem, and message.failed for subscribers
-- (security definer, like the outbox triggers, to reach app.outbox_insert; service_role only).
create function app.fail_send(p_message_id uuid, p_problem jsonb) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
    v_msg public.messages;
begin
    update public.messages m set status = 'failed', error = p_problem, send_claimed_at = null
    where m.id = p_message_id and m.status = 'queued'
    returning * into v_msg;
    if v_msg.id is null then
        return false;
    end if;
    perform app.outbox_insert(v_msg.organization_id, 'message.failed', jsonb_build_object(
        'message_id', v_msg.id, 'conversation_id', v_msg.conversation_id, 'role', v_msg.role,
        'attempts', v_msg.send_attempts, 'problem', p_problem));
    return true;
end
$$;

revoke all on function app.retry_send(uuid, integer), app.fail_send(uuid, jsonb) from public, anon, authenticated;
grant execute on function app.retry_send(uuid, integer), app.fail_send(uuid, jsonb) to service_role;
