-- Budget periods of a day, a week (ISO, Monday first) or a month, calendar-aligned in the
-- organization's time zone (organizations.settings.timezone, the zone follow-ups use; UTC when unset
-- or unknown), and a list of alert thresholds instead of one. The limit per period keeps its column
-- name, monthly_limit_usd (read by app.begin_turn's callers and the follow-ups store); the API calls
-- it limit_usd. period_start is the period's first local date.

alter table public.budgets
    add column period text not null default 'month'
        constraint budgets_period_check check (period in ('day', 'week', 'month')),
    add column alert_thresholds numeric(4, 3)[] not null default '{0.8}'
        constraint budgets_alert_thresholds_check check (
            cardinality(alert_thresholds) between 1 and 10
            and array_position(alert_thresholds, null) is null
            and 0 < all (alert_thresholds) and 1 >= all (alert_thresholds)
        );
update public.budgets set alert_thresholds = array[alert_threshold];
alter table public.budgets drop column alert_threshold;
comment on column public.budgets.monthly_limit_usd is 'The limit per period (day, week or month; see period).';
comment on column public.budgets.period is 'day, week (Monday first) or month, in the organization''s time zone.';
comment on column public.budgets.alert_thresholds is
    'Shares of the limit at which budget.threshold_reached is sent, once per period each.';

-- The organization's IANA zone, or UTC when it has none or Postgres does not know it.
create function app.organization_time_zone(p_organization_id uuid) returns text
language plpgsql stable set search_path = '' as $$
declare
    v_zone text;
begin
    select o.settings ->> 'timezone' into v_zone from public.organizations o where o.id = p_organization_id;
    if v_zone is null or v_zone = 'UTC' then
        return 'UTC';
    end if;
    begin
        perform now() at time zone v_zone;
    exception when invalid_parameter_value then
        return 'UTC';
    end;
    return v_zone;
end
$$;

-- The first local date of the period of kind p_period that contains p_at in zone p_zone.
create function app.budget_period_start(p_period text, p_zone text, p_at timestamptz) returns date
language sql stable set search_path = '' as $$
    select date_trunc(p_period, p_at at time zone p_zone)::date
$$;

-- The first local date after the period that starts on p_start.
create function app.budget_period_end(p_period text, p_start date) returns date
language sql immutable set search_path = '' as $$
    select (p_start + ('1 ' || p_period)::interval)::date
$$;

-- Roll the given organization's budgets (all when null) whose period ended over to the period that
-- contains p_now: spend and reservations start from zero (an open reservation of the old period
-- settles nowhere, as before). Shared by app.reserve_budget and the budgetPeriods cron.
create function app.roll_budgets(p_organization_id uuid, p_agent_id uuid, p_now timestamptz) returns integer
language plpgsql set search_path = '' as $$
declare
    v_rolled integer;
begin
    with current_period as (
        select b.id, app.budget_period_start(b.period, app.organization_time_zone(b.organization_id), p_now) as start
        from public.budgets b
        where p_organization_id is null
           or (b.organization_id = p_organization_id and (b.agent_id is null or b.agent_id = p_agent_id))
    )
    update public.budgets b set spent_usd = 0, reserved_usd = 0, period_start = p.start
    from current_period p
    where b.id = p.id and b.period_start < p.start;
    get diagnostics v_rolled = row_count;
    return v_rolled;
end
$$;

-- h13outcomes: the cron rolls every budget by its own period kind and zone (was: the UTC month).
create or replace function app.roll_budget_periods(p_now timestamptz) returns integer
language sql set search_path = '' as $$
    select app.roll_budgets(null, null, p_now)
$$;

-- h13outcomes: body from 20261102000300_turns_and_budgets.sql; the rollover is per budget period
-- kind and organization zone (app.roll_budgets) instead of the UTC calendar month.
create or replace function app.reserve_budget(
    p_organization_id uuid, p_agent_id uuid, p_conversation_id uuid, p_alias text, p_amount numeric
) returns uuid
language plpgsql set search_path = '' as $$
declare
    v_ids uuid[];
    v_fits boolean;
    v_reservation uuid;
begin
    -- h13outcomes: a new period (of the budget's own kind) starts from zero; reservations from the
    -- last period are dropped with it.
    perform app.roll_budgets(p_organization_id, p_agent_id, now());

    select array_agg(b.id order by b.agent_id nulls first, b.id),
           coalesce(bool_and(b.spent_usd + b.reserved_usd + p_amount <= b.monthly_limit_usd), true)
      into v_ids, v_fits
    from (
        select * from public.budgets b
        where b.organization_id = p_organization_id and (b.agent_id is null or b.agent_id = p_agent_id)
        order by b.agent_id nulls first, b.id
        for update
    ) b;

    if not v_fits then
        return null;
    end if;
    -- The per-conversation cap: turns of one conversation never overlap (one FIFO group each).
    if exists (
        select 1 from public.budgets b join public.conversations c on c.id = p_conversation_id
        where b.organization_id = p_organization_id and b.agent_id is null
          and b.per_conversation_limit_usd is not null
          and c.cost_usd + p_amount > b.per_conversation_limit_usd
    ) then
        return null;
    end if;

    update public.budgets b set reserved_usd = b.reserved_usd + p_amount where b.id = any (coalesce(v_ids, '{}'));
    insert into public.budget_reservations (organization_id, conversation_id, budget_ids, alias, amount_usd)
    values (p_organization_id, p_conversation_id, coalesce(v_ids, '{}'), p_alias, p_amount)
    returning id into v_reservation;
    return v_reservation;
end
$$;

-- h13outcomes: body from 20261102000300_turns_and_budgets.sql; a reservation counts on a budget when
-- it was made in the budget's current period (its kind, the organization's zone), not the UTC month.
create or replace function app.settle_budget(p_reservation_id uuid, p_actual numeric) returns boolean
language plpgsql set search_path = '' as $$
declare
    v_res public.budget_reservations;
begin
    update public.budget_reservations r
    set status = case when p_actual is null then 'released' else 'settled' end, settled_usd = p_actual
    where r.id = p_reservation_id and r.status = 'reserved'
    returning * into v_res;
    if v_res.id is null then
        return false;
    end if;
    update public.budgets b
    set reserved_usd = greatest(b.reserved_usd - v_res.amount_usd, 0),
        spent_usd = b.spent_usd + coalesce(p_actual, 0)
    where b.id = any (v_res.budget_ids)
      -- h13outcomes: the reservation's period is the budget's current one
      and b.period_start = app.budget_period_start(b.period, app.organization_time_zone(b.organization_id),
                                                   v_res.created_at);
    return true;
end
$$;

-- h13outcomes: budget.threshold_reached once per budget, period and threshold, for every threshold
-- of the list the period's spend reached (was: the one alert_threshold).
create or replace function app.raise_budget_alerts() returns integer
language plpgsql set search_path = '' as $$
declare
    v_raised integer;
begin
    with crossed as (
        select b.id, b.organization_id, b.agent_id, b.period, b.period_start, t.threshold, b.spent_usd,
               b.monthly_limit_usd
        from public.budgets b cross join lateral unnest(b.alert_thresholds) as t(threshold)
        where b.monthly_limit_usd > 0 and b.spent_usd >= t.threshold * b.monthly_limit_usd
    ), marked as (
        insert into app.budget_alert_marks (budget_id, period_start, threshold)
        select c.id, c.period_start, c.threshold from crossed c
        on conflict do nothing
        returning budget_id, threshold
    )
    insert into public.event_outbox (organization_id, type, payload)
    select c.organization_id, 'budget.threshold_reached'::public.event_type,
           jsonb_strip_nulls(jsonb_build_object('budget_id', c.id, 'agent_id', c.agent_id, 'period', c.period,
               'period_start', c.period_start, 'period_end', app.budget_period_end(c.period, c.period_start),
               'threshold', c.threshold, 'spent_usd', c.spent_usd, 'limit_usd', c.monthly_limit_usd))
    from crossed c join marked m on m.budget_id = c.id and m.threshold = c.threshold
    order by c.id, c.threshold;
    get diagnostics v_raised = row_count;
    return v_raised;
end
$$;

-- Set an organization's (p_agent_id null) or an agent's budget: limit, period and alert thresholds.
-- Admins and owners; every change leaves an audit row. Spend and reservations are kept while the
-- period kind stays; a new kind recounts the current period from the ledger and the open
-- reservations made in it, so the counter equals the ledger from the first read.
create function public.set_budget(
    p_organization_id uuid,
    p_agent_id uuid,
    p_limit_usd numeric,
    p_per_conversation_limit_usd numeric default null,
    p_period text default 'month',
    p_alert_thresholds numeric[] default '{0.8}'
) returns public.budgets
language plpgsql security definer set search_path = '' as $$
declare
    v_old public.budgets;
    v_new public.budgets;
    v_start date;
    v_zone text;
begin
    perform app.require_admin(p_organization_id, 'budget');
    select * into v_old from public.budgets b
    where b.organization_id = p_organization_id and b.agent_id is not distinct from p_agent_id
    for update;
    v_zone := app.organization_time_zone(p_organization_id);
    v_start := app.budget_period_start(p_period, v_zone, now());
    insert into public.budgets as b
        (organization_id, agent_id, monthly_limit_usd, per_conversation_limit_usd, period, alert_thresholds,
         period_start)
    values (p_organization_id, p_agent_id, p_limit_usd, p_per_conversation_limit_usd, p_period,
            p_alert_thresholds, v_start)
    on conflict (organization_id, agent_id) do update set
        monthly_limit_usd = excluded.monthly_limit_usd,
        per_conversation_limit_usd = excluded.per_conversation_limit_usd,
        period = excluded.period,
        alert_thresholds = excluded.alert_thresholds
    returning * into v_new;
    if v_old.id is not null and v_old.period is distinct from p_period then
        update public.budgets b set
            period_start = v_start,
            spent_usd = (
                select coalesce(sum(u.cost_usd), 0) from public.llm_usage u
                where u.organization_id = p_organization_id and (p_agent_id is null or u.agent_id = p_agent_id)
                  and u.created_at >= (v_start::timestamp at time zone v_zone)),
            reserved_usd = (
                select coalesce(sum(r.amount_usd), 0) from public.budget_reservations r
                where r.organization_id = p_organization_id and r.status = 'reserved' and b.id = any (r.budget_ids)
                  and r.created_at >= (v_start::timestamp at time zone v_zone))
        where b.id = v_new.id
        returning * into v_new;
    end if;
    insert into public.budget_changes (organization_id, budget_id, changed_by, old, new)
    values (p_organization_id, v_new.id, (select auth.uid()),
            case when v_old.id is not null then to_jsonb(v_old) - 'updated_at' end, to_jsonb(v_new) - 'updated_at');
    return v_new;
end
$$;
revoke all on function public.set_budget(uuid, uuid, numeric, numeric, text, numeric[]) from public, anon;
grant execute on function public.set_budget(uuid, uuid, numeric, numeric, text, numeric[])
    to authenticated, service_role;

-- The five-argument form set a month and one threshold; it is replaced by the one above.
drop function public.set_budget(uuid, uuid, numeric, numeric, numeric);

-- Members read their budgets' periods with the first three (the zone under their RLS).
revoke all on function app.organization_time_zone(uuid), app.budget_period_start(text, text, timestamptz),
    app.budget_period_end(text, date), app.roll_budgets(uuid, uuid, timestamptz) from public, anon, authenticated;
grant execute on function app.organization_time_zone(uuid), app.budget_period_start(text, text, timestamptz),
    app.budget_period_end(text, date) to authenticated, service_role;
grant execute on function app.roll_budgets(uuid, uuid, timestamptz) to service_role;
