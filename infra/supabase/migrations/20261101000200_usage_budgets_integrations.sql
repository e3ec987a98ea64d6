-- The LLM usage ledger, budgets, and integrations (WhatsApp numbers, CRMs, webhooks).
-- Secrets never live in these tables: integrations reference a Vault secret by id.

create type public.budget_exhausted_action as enum ('fallback', 'handoff', 'refuse');
create type public.integration_kind as enum ('whatsapp', 'hubspot', 'pipedrive', 'rdstation', 'webhook');

create table public.llm_usage (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    agent_id uuid,
    conversation_id uuid,
    message_id uuid,
    model text not null,
    alias text,
    tokens_in integer not null default 0 constraint llm_usage_tokens_in_check check (tokens_in >= 0),
    tokens_out integer not null default 0 constraint llm_usage_tokens_out_check check (tokens_out >= 0),
    cost_usd numeric(14, 6) not null default 0 constraint llm_usage_cost_usd_check check (cost_usd >= 0),
    latency_ms integer not null default 0,
    fallback_used boolean not null default false,
    status text not null default 'ok' constraint llm_usage_status_check check (status in ('ok', 'error')),
    error text,
    created_at timestamptz not null default now(),
    constraint llm_usage_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete set null (agent_id),
    constraint llm_usage_conversation_fkey foreign key (conversation_id, organization_id)
        references public.conversations (id, organization_id) on delete set null (conversation_id)
);
create index llm_usage_organization_id_idx on public.llm_usage (organization_id, created_at desc);
create index llm_usage_agent_id_idx on public.llm_usage (agent_id);
create index llm_usage_conversation_id_idx on public.llm_usage (conversation_id);
comment on table public.llm_usage is 'One row per model call. Written by workers (service role) only.';

create table public.budgets (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    agent_id uuid,
    monthly_limit_usd numeric(14, 6) not null constraint budgets_monthly_limit_usd_check check (monthly_limit_usd >= 0),
    per_conversation_limit_usd numeric(14, 6)
        constraint budgets_per_conversation_limit_usd_check check (per_conversation_limit_usd >= 0),
    alert_threshold numeric(4, 3) not null default 0.8
        constraint budgets_alert_threshold_check check (alert_threshold > 0 and alert_threshold <= 1),
    on_exhausted public.budget_exhausted_action not null default 'refuse',
    period_start date not null default date_trunc('month', now())::date,
    spent_usd numeric(14, 6) not null default 0 constraint budgets_spent_usd_check check (spent_usd >= 0),
    reserved_usd numeric(14, 6) not null default 0 constraint budgets_reserved_usd_check check (reserved_usd >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint budgets_scope_key unique nulls not distinct (organization_id, agent_id),
    constraint budgets_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete cascade
);
create index budgets_organization_id_idx on public.budgets (organization_id);
create index budgets_agent_id_idx on public.budgets (agent_id);
create trigger budgets_touch before update on public.budgets for each row execute function app.touch_updated_at();

create table public.integrations (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    kind public.integration_kind not null,
    name text not null constraint integrations_name_check check (length(btrim(name)) between 1 and 120),
    agent_id uuid,
    external_id text,
    config jsonb not null default '{}'::jsonb,
    secret_id uuid,
    enabled boolean not null default true,
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint integrations_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete set null (agent_id)
);
comment on column public.integrations.external_id is 'The provider-side id webhooks are routed by, e.g. WhatsApp phone_number_id.';
comment on column public.integrations.secret_id is 'Vault secret id; the secret itself is never stored or returned here.';
create index integrations_organization_id_idx on public.integrations (organization_id);
create index integrations_agent_id_idx on public.integrations (agent_id);
create unique index integrations_kind_external_id_key on public.integrations (kind, external_id)
    where external_id is not null;
create trigger integrations_touch before update on public.integrations
    for each row execute function app.touch_updated_at();

alter table public.llm_usage enable row level security;
alter table public.budgets enable row level security;
alter table public.integrations enable row level security;

create policy "members read usage" on public.llm_usage
    for select to authenticated using (organization_id in (select app.my_org_ids()));

create policy "members read budgets" on public.budgets
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "admins create budgets" on public.budgets
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('admin')));
create policy "admins update budgets" on public.budgets
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('admin')))
    with check (organization_id in (select app.my_org_ids_with_role('admin')));
create policy "admins delete budgets" on public.budgets
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));

create policy "members read integrations" on public.integrations
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "admins create integrations" on public.integrations
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('admin')));
create policy "admins update integrations" on public.integrations
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('admin')))
    with check (organization_id in (select app.my_org_ids_with_role('admin')));
create policy "admins delete integrations" on public.integrations
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));

-- The ledger is written by workers only; spend counters move only through the service path.
revoke insert, update, delete on public.llm_usage from authenticated;
revoke update on public.budgets from authenticated;
grant update (monthly_limit_usd, per_conversation_limit_usd, alert_threshold, on_exhausted)
    on public.budgets to authenticated;
revoke all on public.llm_usage, public.budgets, public.integrations from anon;
