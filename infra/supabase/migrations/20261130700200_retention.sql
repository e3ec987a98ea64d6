-- Retention: how long finished rows are kept, per kind, configurable like app.budget_defaults
-- (`update app.retention_periods set keep = '90 days' where kind = 'webhook_deliveries'`).
-- The purgeRetention cron deletes what is older, in bounded batches (app.purge_expired).
create table app.retention_periods (
    kind text primary key
        constraint retention_periods_kind_check
        check (kind in ('event_outbox', 'webhook_deliveries', 'idempotency_keys', 'message_status_events')),
    keep interval not null constraint retention_periods_keep_check check (keep >= interval '0')
);
comment on table app.retention_periods is 'How long finished rows are kept before purgeRetention deletes them.';
insert into app.retention_periods (kind, keep) values
    ('event_outbox', '30 days'),           -- dispatched events with no delivery still pending
    ('webhook_deliveries', '30 days'),     -- the delivery log, once succeeded or failed
    ('idempotency_keys', '0 seconds'),     -- after their own 24-hour expiry
    ('message_status_events', '90 days');  -- WhatsApp status history
revoke all on app.retention_periods from public, anon, authenticated;
grant select, update on app.retention_periods to service_role;

create function app.purge_expired(p_now timestamptz, p_limit integer) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_keep jsonb;
    v_deliveries integer;
    v_events integer;
    v_keys integer;
    v_statuses integer;
begin
    select jsonb_object_agg(r.kind, r.keep) into v_keep from app.retention_periods r;
    with gone as (
        delete from public.webhook_deliveries d where d.id in (
            select x.id from public.webhook_deliveries x
            where x.status in ('succeeded', 'failed')
              and coalesce(x.completed_at, x.created_at) < p_now - (v_keep ->> 'webhook_deliveries')::interval
            limit p_limit)
        returning 1)
    select count(*) into v_deliveries from gone;
    with gone as (
        delete from public.event_outbox e where e.id in (
            select x.id from public.event_outbox x
            where x.dispatched_at < p_now - (v_keep ->> 'event_outbox')::interval
              and not exists (select 1 from public.webhook_deliveries d
                              where d.event_id = x.id and d.status = 'pending')
            limit p_limit)
        returning 1)
    select count(*) into v_events from gone;
    with gone as (
        delete from public.idempotency_keys k where k.id in (
            select x.id from public.idempotency_keys x
            where x.expires_at <= p_now - (v_keep ->> 'idempotency_keys')::interval
            limit p_limit)
        returning 1)
    select count(*) into v_keys from gone;
    with gone as (
        delete from public.message_status_events s where s.id in (
            select x.id from public.message_status_events x
            where x.created_at < p_now - (v_keep ->> 'message_status_events')::interval
            limit p_limit)
        returning 1)
    select count(*) into v_statuses from gone;
    return jsonb_build_object('webhook_deliveries', v_deliveries, 'event_outbox', v_events,
                              'idempotency_keys', v_keys, 'message_status_events', v_statuses);
end
$$;
revoke all on function app.purge_expired(timestamptz, integer) from public, anon, authenticated;
grant execute on function app.purge_expired(timestamptz, integer) to service_role;
create index if not exists event_outbox_dispatched_at_idx on public.event_outbox (dispatched_at)
    where dispatched_at is not null;
create index if not exists message_status_events_created_at_idx on public.message_status_events (created_at);
