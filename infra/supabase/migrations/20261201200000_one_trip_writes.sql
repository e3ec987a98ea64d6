-- Writes in one round trip (issue 10): the Idempotency-Key is claimed and the response remembered in the
-- script that writes, so a write is "begin; claims; claim; write; commit" sent once.
--
-- app.claim_idempotency_key_or_raise stops the script when the key was used before: the statements after it
-- do not run and the transaction rolls back. shared/db/errors.py maps SQLSTATE CA409 (its DETAIL is the
-- claim: replay with the stored response, mismatch, or busy) to the same answers as app.claim_idempotency_key.
-- app.remember_response saves the response unless the request carried no key, so a write's statement can call
-- it whatever the request. Both run as the caller (security invoker); the functions they call decide scope.

create function app.claim_idempotency_key_or_raise(p_key text, p_request_hash text, p_scope text default null)
returns void
language plpgsql set search_path = '' as $$
declare
    v_claim jsonb;
begin
    if p_key is null then
        return;
    end if;
    v_claim := app.claim_idempotency_key(p_key, p_request_hash, p_scope);
    if v_claim ->> 'state' <> 'new' then
        raise exception 'idempotency key %', v_claim ->> 'state' using errcode = 'CA409', detail = v_claim::text;
    end if;
end
$$;

create function app.remember_response(
    p_key text, p_request_hash text, p_organization_id uuid, p_status integer, p_body jsonb, p_scope text default null
) returns boolean
language plpgsql set search_path = '' as $$
begin
    if p_key is null then
        return false;
    end if;
    perform app.save_idempotency_key(p_key, p_request_hash, p_organization_id, p_status, p_body, p_scope);
    return true;
end
$$;

revoke all on function app.claim_idempotency_key_or_raise(text, text, text),
    app.remember_response(text, text, uuid, integer, jsonb, text)
    from public;
grant execute on function app.claim_idempotency_key_or_raise(text, text, text),
    app.remember_response(text, text, uuid, integer, jsonb, text)
    to authenticated, service_role;

-- A lead message is now stored queued in the script that writes it, before its turn is enqueued after the
-- commit; when SQS refuses, the caller puts it back to received (for the sweep) under their own claims.
-- Body from 20261130100500_user_status_edges.sql; one edge added.
create or replace function app.guard_user_message_update() returns trigger
language plpgsql set search_path = '' as $$
begin
    if (select app.is_service_path()) then
        return new;
    end if;
    if old.handled_at is not null and new.handled_at is distinct from old.handled_at then
        raise exception 'an answered message stays answered' using errcode = '42501';
    end if;
    if new.status is distinct from old.status and not (
        (old.status = 'received' and new.status = 'queued')
        -- h10writes: a turn SQS refused goes back to received, for the sweep
        or (old.status = 'queued' and new.status = 'received' and new.role = 'lead' and new.handled_at is null)
        or (new.status = 'read' and new.role = 'lead' and new.handled_at is not null)
    ) then
        raise exception 'message status % -> % is the workers''', old.status, new.status using errcode = '42501';
    end if;
    return new;
end
$$;
