-- The exhaustion policy lives in the agent's config only (20261130200100 drops budgets.on_exhausted
-- and its type). Before that drop, the budget defaults, the default-budget trigger and set_budget of
-- 20261130100100 stop carrying it. Written to be a no-op where a database already has this shape
-- (an earlier edit of 20261130100100 did the same in place; that edit is undone, the migration is
-- back as it landed, and the change lives here).

alter table app.budget_defaults drop column if exists on_exhausted;

create or replace function app.create_default_budget() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    insert into public.budgets (organization_id, monthly_limit_usd, per_conversation_limit_usd)
    select new.id, d.monthly_limit_usd, d.per_conversation_limit_usd from app.budget_defaults d
    on conflict (organization_id, agent_id) do nothing;
    return null;
end
$$;

do $$
begin
    if to_regtype('public.budget_exhausted_action') is not null then
        execute 'drop function if exists public.set_budget(uuid, uuid, numeric, numeric, numeric, '
                'public.budget_exhausted_action)';
    end if;
end
$$;

-- Set an organization's (p_agent_id null) or an agent's limits. Admins and owners; spent_usd,
-- reserved_usd and the period are kept; every change leaves an audit row.
create or replace function public.set_budget(
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
revoke all on function public.set_budget(uuid, uuid, numeric, numeric, numeric) from public, anon;
grant execute on function public.set_budget(uuid, uuid, numeric, numeric, numeric) to authenticated, service_role;
