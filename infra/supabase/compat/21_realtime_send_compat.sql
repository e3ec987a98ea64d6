-- Supabase Realtime's "broadcast from the database", created only where missing: realtime.send(payload,
-- event, topic, private) inserts a broadcast row into realtime.messages, which Realtime reads from the
-- replication stream and sends to the topic's subscribers. On Supabase it exists already (this is a no-op);
-- locally the row is written and nothing sends it. Like Supabase's, a failure is a warning, never an error:
-- a broadcast is best effort and must not undo the transaction that sent it.

do $compat$
begin
    if not exists (
        select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'realtime' and p.proname = 'send'
    ) then
        create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
        returns void language plpgsql as $fn$
        begin
            begin
                perform set_config('realtime.topic', topic, true);
                insert into realtime.messages (payload, event, topic, private, extension)
                values (payload, event, topic, private, 'broadcast');
            exception when others then
                raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
            end;
        end
        $fn$;
    end if;
end
$compat$;
grant execute on function realtime.send(jsonb, text, text, boolean) to service_role;
