-- Agents API: archiving, keyset listing, and RPCs that keep agent_versions and agents.current_version
-- in step. The API and the front end (supabase-js) call the same functions.

alter table public.agents add column archived_at timestamptz;
comment on column public.agents.status is
    'archived: the agent starts no new conversations; existing ones keep their pinned agent_version.';

-- Lists page through an organization's agents newest first; this index serves that order and
-- every lookup the old (organization_id) index served.
create index agents_organization_created_idx on public.agents (organization_id, created_at desc, id desc);
drop index public.agents_organization_id_idx;

create function app.stamp_archived_at() returns trigger
language plpgsql set search_path = '' as $$
begin
    new.archived_at := case when new.status = 'archived' then coalesce(old.archived_at, now()) end;
    return new;
end
$$;
create trigger agents_stamp_archived_at before update of status on public.agents
    for each row execute function app.stamp_archived_at();

-- The editor-update policy allows any column. current_version must only move together with a new
-- agent_versions row, and a widget key is only ever minted by the database, so members update
-- just these columns directly; public.update_agent() does the rest.
revoke update on public.agents from authenticated;
grant update (name, status, allowed_origins) on public.agents to authenticated;

-- Create an agent with configuration version 1. Security invoker: the agents and agent_versions
-- insert policies decide (editors and above); an organization the caller cannot see is not found.
create function public.create_agent(
    p_organization_id uuid, p_name text, p_config jsonb, p_allowed_origins text[] default '{}'
) returns jsonb
language plpgsql set search_path = '' as $$
declare
    v_agent public.agents;
begin
    if not exists (select 1 from public.organizations o where o.id = p_organization_id) then
        raise exception 'organization not found' using errcode = 'P0002';
    end if;
    insert into public.agents (organization_id, name, allowed_origins, created_by)
    values (p_organization_id, btrim(p_name), coalesce(p_allowed_origins, '{}'), (select auth.uid()))
    returning * into v_agent;
    insert into public.agent_versions (organization_id, agent_id, version, config, created_by)
    values (p_organization_id, v_agent.id, 1, p_config, (select auth.uid()));
    return to_jsonb(v_agent) || jsonb_build_object('config', p_config, 'version', 1);
end
$$;

-- Change an agent in one transaction: a config that differs from the current one becomes a new,
-- immutable version and agents.current_version moves to it. p_base_version is the version the
-- caller derived p_config from (or expects); if another change landed first, nothing is written.
-- Security definer (it sets current_version and the key), so it checks what the policies check.
create function public.update_agent(
    p_agent_id uuid,
    p_base_version integer,
    p_config jsonb default null,
    p_name text default null,
    p_allowed_origins text[] default null,
    p_rotate_key boolean default false
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
    v_agent public.agents;
    v_config jsonb;
    v_version integer;
begin
    select * into v_agent from public.agents a
    where a.id = p_agent_id and a.organization_id in (select app.my_org_ids())
    for update;
    if v_agent.id is null then
        raise exception 'agent not found' using errcode = 'P0002';
    end if;
    if v_agent.organization_id not in (select app.my_org_ids_with_role('editor')) then
        raise exception 'only owners, admins and editors change agents' using errcode = '42501';
    end if;
    if v_agent.status = 'archived' then
        raise exception 'the agent is archived' using errcode = 'P0001';
    end if;
    if p_base_version is distinct from v_agent.current_version then
        raise exception 'the agent is at version %, not %', v_agent.current_version, p_base_version
            using errcode = 'P0001';
    end if;

    select v.config into v_config from public.agent_versions v
    where v.agent_id = v_agent.id and v.version = v_agent.current_version;
    v_version := v_agent.current_version;
    if p_config is not null and p_config is distinct from v_config then
        -- Past any version inserted directly (the insert policy allows it), never onto one.
        select coalesce(max(v.version), 0) + 1 into v_version from public.agent_versions v
        where v.agent_id = v_agent.id;
        insert into public.agent_versions (organization_id, agent_id, version, config, created_by)
        values (v_agent.organization_id, v_agent.id, v_version, p_config, (select auth.uid()));
        v_config := p_config;
    end if;

    if v_version <> v_agent.current_version or p_rotate_key
       or coalesce(btrim(p_name), v_agent.name) <> v_agent.name
       or coalesce(p_allowed_origins, v_agent.allowed_origins) <> v_agent.allowed_origins then
        update public.agents a set
            name = coalesce(btrim(p_name), a.name),
            allowed_origins = coalesce(p_allowed_origins, a.allowed_origins),
            current_version = v_version,
            publishable_key = case when p_rotate_key then 'pk_' || replace(gen_random_uuid()::text, '-', '')
                                   else a.publishable_key end
        where a.id = v_agent.id
        returning * into v_agent;
    end if;
    return to_jsonb(v_agent) || jsonb_build_object('config', coalesce(v_config, '{}'::jsonb), 'version', v_version);
end
$$;

-- Archive (soft delete). Security invoker: the editor-update policy decides; a visible agent the
-- caller may not update is refused rather than silently left alone. Archiving twice is harmless.
create function public.archive_agent(p_agent_id uuid) returns void
language plpgsql set search_path = '' as $$
begin
    if not exists (select 1 from public.agents a where a.id = p_agent_id) then
        raise exception 'agent not found' using errcode = 'P0002';
    end if;
    update public.agents a set status = 'archived' where a.id = p_agent_id;
    if not found then
        raise exception 'only owners, admins and editors archive agents' using errcode = '42501';
    end if;
end
$$;

revoke all on function public.create_agent(uuid, text, jsonb, text[]),
    public.update_agent(uuid, integer, jsonb, text, text[], boolean), public.archive_agent(uuid)
    from public, anon;
grant execute on function public.create_agent(uuid, text, jsonb, text[]),
    public.update_agent(uuid, integer, jsonb, text, text[], boolean), public.archive_agent(uuid)
    to authenticated, service_role;
