-- The turn's budget calls, cheaper (issue #10's turn target). Bodies from
-- 20261201700000_budget_period_kinds.sql; every change is marked `-- h14turn:`.
--
-- app.reserve_budget ran app.roll_budgets on every turn: an UPDATE over a CTE that called
-- app.organization_time_zone for each budget row, to find (almost always) that no period had ended.
-- It now locks the budgets first, in the same order as before, and sees in that same statement
-- whether a period ended (the organization's zone read once); only then does it roll them, with the
-- same app.roll_budgets. A budget whose period ended counts from zero in the fit check, as it did
-- after the roll. app.settle_budget reads the organization's zone once instead of once per budget.

create or replace function app.reserve_budget(
    p_organization_id uuid, p_agent_id uuid, p_conversation_id uuid, p_alias text, p_amount numeric
) returns uuid
language plpgsql set search_path = '' as $$
declare
    v_ids uuid[];
    v_fits boolean;
    v_reservation uuid;
    v_zone text := app.organization_time_zone(p_organization_id);  -- h14turn: once, not per budget
    v_ended boolean;  -- h14turn: a budget's period ended: roll before reserving
begin
    -- h14turn: lock first (the order is unchanged); a budget whose period ended counts from zero, as it
    -- does once rolled below.
    select array_agg(b.id order by b.agent_id nulls first, b.id),
           coalesce(bool_and(case when b.ended then 0 else b.spent_usd + b.reserved_usd end + p_amount
                             <= b.monthly_limit_usd), true),
           coalesce(bool_or(b.ended), false)
      into v_ids, v_fits, v_ended
    from (
        select b.*, b.period_start < app.budget_period_start(b.period, v_zone, now()) as ended
        from public.budgets b
        where b.organization_id = p_organization_id and (b.agent_id is null or b.agent_id = p_agent_id)
        order by b.agent_id nulls first, b.id
        for update
    ) b;
    -- h13outcomes: a new period (of the budget's own kind) starts from zero; reservations from the
    -- last period are dropped with it. h14turn: only when one ended (the rows are locked above).
    if v_ended then
        perform app.roll_budgets(p_organization_id, p_agent_id, now());
    end if;

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

create or replace function app.settle_budget(p_reservation_id uuid, p_actual numeric) returns boolean
language plpgsql set search_path = '' as $$
declare
    v_res public.budget_reservations;
    v_zone text;  -- h14turn: the organization's zone, read once
begin
    update public.budget_reservations r
    set status = case when p_actual is null then 'released' else 'settled' end, settled_usd = p_actual
    where r.id = p_reservation_id and r.status = 'reserved'
    returning * into v_res;
    if v_res.id is null then
        return false;
    end if;
    -- h14turn: every budget of a reservation is of the reservation's organization (app.reserve_budget)
    v_zone := app.organization_time_zone(v_res.organization_id);
    update public.budgets b
    set reserved_usd = greatest(b.reserved_usd - v_res.amount_usd, 0),
        spent_usd = b.spent_usd + coalesce(p_actual, 0)
    where b.id = any (v_res.budget_ids)
      -- h13outcomes: the reservation's period is the budget's current one
      and b.period_start = app.budget_period_start(b.period, v_zone, v_res.created_at);  -- h14turn: v_zone
    return true;
end
$$;
