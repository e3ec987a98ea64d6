-- h11follow: where the follow-up planner got to. A planning pass used to look at every bot conversation
-- active in the last 30 days, every minute; it now looks at those active since its last complete pass
-- (minus a grace period, for a silence that became plannable late: shared/followups/service.py), so a
-- run does not rescan history. Only the cron writes it (service role); losing it costs one full pass.
create table app.cron_watermarks (
    name text primary key constraint cron_watermarks_name_check check (name in ('follow_up_planner')),
    at timestamptz not null
);
comment on table app.cron_watermarks is
    'How far a cron''s last complete pass got (follow_up_planner: conversations active before it were considered).';
revoke all on app.cron_watermarks from public, anon, authenticated;
grant select, insert, update on app.cron_watermarks to service_role;
