-- Widget starts are bound to the visitor: an anonymous caller's Idempotency-Key is scoped to that
-- caller (`visitor:<sha-256 of agent, client id and source address>`, built by shared/idempotency.py),
-- so a replay from anyone else is a different key and never receives the conversation or a token.
alter table public.idempotency_keys drop constraint idempotency_keys_scope_check;
alter table public.idempotency_keys add constraint idempotency_keys_scope_check
    check (scope ~ '^(user|agent|conversation):[0-9a-f-]{36}$' or scope ~ '^visitor:[0-9a-f]{64}$');
