-- h11follow: follow_ups' lead foreign key had only a partial index (status = 'sent'), which its
-- cascade cannot use: deleting a lead (or an organization) scanned every follow-up once per lead
-- (the 1M-row bench's cleanup ran for more than 8 minutes). One full index serves the cascade and the
-- worker's count of a lead's sent follow-ups in the period (a lead has few rows; status is filtered).
drop index public.follow_ups_lead_sent_idx;
create index follow_ups_lead_idx on public.follow_ups (lead_id, finished_at);
