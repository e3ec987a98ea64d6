-- A transient send failure is counted once, even when its statement runs twice.
--
-- app.retry_send is a worker's statement, and shared.db sends a worker's statement again, once, when
-- its connection drops; when the first run had committed and only its answer was lost, the increment
-- counted the failed attempt twice, and a message gave up one attempt early. Python (shared/whatsapp/
-- outbound.py) already counts the attempt it failed: it now passes that count, and the row keeps the
-- larger of the two, so a second run writes what the first did. The count never goes down (a sweep
-- that re-sent a lost job counts too), and the claim is released either way.

create function app.retry_send(p_message_id uuid, p_attempts integer, p_delay_seconds integer) returns integer
language sql set search_path = '' as $$
    update public.messages m set send_claimed_at = null, send_attempts = greatest(m.send_attempts, p_attempts),
        send_next_at = now() + make_interval(secs => p_delay_seconds)
    where m.id = p_message_id and m.status = 'queued'
    returning m.send_attempts
$$;
revoke all on function app.retry_send(uuid, integer, integer) from public, anon, authenticated;
grant execute on function app.retry_send(uuid, integer, integer) to service_role;

drop function app.retry_send(uuid, integer);
