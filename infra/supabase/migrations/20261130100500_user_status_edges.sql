-- Statuses a person may move, and only along their edges. The columns granted to `authenticated`
-- (20261130100000_least_privilege.sql) are what the API's transitions write; these triggers keep a
-- direct supabase-js update to the same moves: a conversation goes bot -> human (taken by the
-- caller), human -> bot, bot | human -> closed, and never out of closed; a message goes
-- received -> queued, or a lead message is marked read as answered by a human. Delivery states
-- (sent, delivered, failed) belong to the workers, which run on the service path.

create function app.guard_user_conversation_update() returns trigger
language plpgsql set search_path = '' as $$
declare
    v_edge text := old.status::text || '>' || new.status::text;
begin
    if (select app.is_service_path()) then
        return new;
    end if;
    if old.status is not distinct from new.status then
        if new.assigned_to is distinct from old.assigned_to or new.closed_at is distinct from old.closed_at then
            raise exception 'assignment and closing change only with the conversation''s status'
                using errcode = '42501';
        end if;
        return new;
    end if;
    if not (
        (v_edge = 'bot>human' and new.assigned_to = (select auth.uid()))
        or (v_edge = 'human>bot' and new.assigned_to is null)
        or (v_edge in ('bot>closed', 'human>closed') and new.closed_at is not null)
    ) then
        raise exception 'a conversation does not move % directly', v_edge using errcode = '42501';
    end if;
    return new;
end
$$;
revoke all on function app.guard_user_conversation_update() from public;
grant execute on function app.guard_user_conversation_update() to authenticated, service_role;
create trigger conversations_guard_user_update before update on public.conversations
    for each row execute function app.guard_user_conversation_update();

create function app.guard_user_message_update() returns trigger
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
        or (new.status = 'read' and new.role = 'lead' and new.handled_at is not null)
    ) then
        raise exception 'message status % -> % is the workers''', old.status, new.status using errcode = '42501';
    end if;
    return new;
end
$$;
revoke all on function app.guard_user_message_update() from public;
grant execute on function app.guard_user_message_update() to authenticated, service_role;
create trigger messages_guard_user_update before update on public.messages
    for each row execute function app.guard_user_message_update();
