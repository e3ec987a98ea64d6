-- Realtime topics are private. A conversation's broadcasts (typing) go to the private channel
-- `conversation:<id>` (sent with `private: true`), and Realtime lets a client join it only when
-- these policies on realtime.messages allow: members of the conversation's organization receive.
-- Nobody sends on it but the service (the worker's REST broadcast uses the service key).
-- Widget visitors have no Supabase session, so they keep polling GET /widget/conversations/{id}
-- (README "Real-time").

create function app.can_read_topic(p_topic text) returns boolean
language sql stable security definer set search_path = '' as $$
    select exists (
        select 1 from public.conversations c
        where p_topic ~ '^conversation:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
          and c.id = substr(p_topic, 14)::uuid
          and c.organization_id in (select app.my_org_ids())
    )
$$;
revoke all on function app.can_read_topic(text) from public;
grant execute on function app.can_read_topic(text) to authenticated, service_role;

create policy "members receive their conversations' broadcasts" on realtime.messages
    for select to authenticated
    using (realtime.messages.extension = 'broadcast' and (select app.can_read_topic((select realtime.topic()))));
