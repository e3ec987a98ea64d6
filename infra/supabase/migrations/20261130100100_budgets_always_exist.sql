-- Budgets always exist and cannot be escaped: every organization gets its budget row in the same
-- transaction that creates it, with the limit from configuration; nobody deletes or re-creates it
-- directly; limits change only through public.set_budget, which keeps the spend and writes an audit row.

-- The defaults a new organization's budget starts with. One row; the service sets it per stage
-- (`update app.budget_defaults set monthly_limit_usd = ...` from a deploy step or psql).
create table app.budget_defaults (
    singleton boolean primary key default true constraint budget_defaults_singleton_check check (singleton),
    monthly_limit_usd numeric(14, 6) not null default 20
        constraint budget_defaults_monthly_limit_usd_check check (monthly_limit_usd >= 0),
    per_conversation_limit_usd numeric(14, 6) default 1
        constraint budget_defaults_per_conversation_limit_usd_check check (per_conversation_limit_usd >= 0)
);
insert into app.budget_defaults default values;
revoke all on app.budget_defaults from public, anon, authenticated;

alter table public.budgets add constraint budgets_id_organization_key unique (id, organization_id);

create table public.budget_changes (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    budget_id uuid not null,
    changed_by uuid references auth.users (id) on delete set null,
    old jsonb,
    new jsonb not null,
    created_at timestamptz not null default now(),
    constraint budget_changes_budget_fkey foreign key (budget_id, organization_id)
        references public.budgets (id, organization_id) on delete cascade
);
create index budget_changes_organization_id_idx on public.budget_changes (organization_id, created_at desc);
create index budget_changes_budget_id_idx on public.budget_changes (budget_id);
create index budget_changes_changed_by_idx on public.budget_changes (changed_by);
comment on table public.budget_changes is 'Audit of every budget limit change (public.set_budget); append-only.';
alter table public.budget_changes enable row level security;
create policy "admins read budget changes" on public.budget_changes
    for select to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));
revoke all on public.budget_changes from anon, authenticated;
grant select on public.budget_changes to authenticated;

-- Direct writes are gone: the grant and the policies both.
revoke insert, update, delete on public.budgets from anon, authenticated;
drop policy "admins create budgets" on public.budgets;
drop policy "admins update budgets" on public.budgets;
drop policy "admins delete budgets" on public.budgets;

create function app.create_default_budget() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    insert into public.budgets (organization_id, monthly_limit_usd, per_conversation_limit_usd)
    select new.id, d.monthly_limit_usd, d.per_conversation_limit_usd from app.budget_defaults d
    on conflict (organization_id, agent_id) do nothing;
    return null;
end
$$;
revoke all on function app.create_default_budget() from public;
create trigger organizations_default_budget after insert on public.organizations
    for each row execute function app.create_default_budget();

-- Organizations created before this migration get theirs now.
insert into public.budgets (organization_id, monthly_limit_usd, per_conversation_limit_usd)
select o.id, d.monthly_limit_usd, d.per_conversation_limit_usd
from public.organizations o cross join app.budget_defaults d
where not exists (select 1 from public.budgets b where b.organization_id = o.id and b.agent_id is null);

-- Set an organization's (p_agent_id null) or an agent's limits. Admins and owners; spent_usd,
-- reserved_usd and the period are kept; every change leaves an audit row.
create function public.set_budget(
    p_organization_id uuid,
    p_agent_id uuid,
    p_monthly_limit_usd numeric,
    p_per_conversation_limit_usd numeric default null,
    p_alert_threshold numeric default 0.8
) returns public.budgets
language plpgsql security definer set search_path = '' as $$
declare
    v_old public.budgets;
    v_new public.budgets;
begin
    perform app.require_admin(p_organization_id, 'budget');
    select * into v_old from public.budgets b
    where b.organization_id = p_organization_id and b.agent_id is not distinct from p_agent_id
    for update;
    insert into public.budgets as b
        (organization_id, agent_id, monthly_limit_usd, per_conversation_limit_usd, alert_threshold)
    values (p_organization_id, p_agent_id, p_monthly_limit_usd, p_per_conversation_limit_usd,
            p_alert_threshold)
    on conflict (organization_id, agent_id) do update set
        monthly_limit_usd = excluded.monthly_limit_usd,
        per_conversation_limit_usd = excluded.per_conversation_limit_usd,
        alert_threshold = excluded.alert_threshold
    returning * into v_new;
    insert into public.budget_changes (organization_id, budget_id, changed_by, old, new)
    values (p_organization_id, v_new.id, (select auth.uid()),
            case when v_old.id is not null then to_jsonb(v_old) - 'updated_at' end, to_jsonb(v_new) - 'updated_at');
    return v_new;
end
$$;
revoke all on function public.set_budget(uuid, uuid, numeric, numeric, numeric)
    from public, anon;
grant execute on function public.set_budget(uuid, uuid, numeric, numeric, numeric)
    to authenticated, service_role;
