-- A reservation left by a worker that died is released by the sweep once it expires. The TTL is at
-- most twice the turn worker's timeout (serverless.yml turnWorker.timeout: 120 s), so a dead
-- worker's hold on the budget lasts 4 minutes, not 10; a live turn always finishes before it.
alter table public.budget_reservations alter column expires_at set default now() + interval '240 seconds';
