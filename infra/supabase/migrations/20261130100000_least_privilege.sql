-- Least privilege per column. The front end reaches these tables directly through supabase-js
-- (role `authenticated`, RLS), so the grants are the API too: reads under RLS, and writes only to
-- the columns a person may legitimately change. Costs, spend, budgets, outcomes, worker-owned
-- statuses and cross-row references change only on the service path or through security-definer
-- functions that apply the rules. README "Direct database access" lists the result; the SQL matrix
-- (tests/integration/db/test_column_privileges.py) checks every column against that table.

-- Nothing by default: Supabase grants every privilege on new tables to anon and authenticated.
alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;
alter default privileges in schema public revoke execute on functions from anon;

revoke all on all tables in schema public from anon, authenticated;
grant select on all tables in schema public to authenticated;

-- organizations: admins rename; created through public.create_organization; owners delete.
grant update (name, settings) on public.organizations to authenticated;
grant delete on public.organizations to authenticated;

-- memberships: admins change roles and remove members, anyone leaves; members join only by
-- accepting an invitation (public.accept_invitation).
grant update (role) on public.memberships to authenticated;
grant delete on public.memberships to authenticated;

-- invitations: created through public.add_organization_member; an admin withdraws one by deleting it.
grant delete on public.invitations to authenticated;

-- agents: created and versioned through public.create_agent / public.update_agent.
grant update (name, status, allowed_origins) on public.agents to authenticated;
grant delete on public.agents to authenticated;

-- leads: people fix contact data; stage, score and qualification move through the turn rules.
-- (app.upsert_lead runs as the caller, so the insert columns are what it writes.)
grant insert (organization_id, name, email, phone, source) on public.leads to authenticated;
grant update (name, email, phone, consent, metadata) on public.leads to authenticated;
grant delete on public.leads to authenticated;

-- conversations: started pinned to the agent's current version; status moves by the transitions
-- (takeover, release, close); cost_usd, summary and the visitor token never change directly.
grant insert (organization_id, agent_id, agent_version, lead_id, channel, last_message_at, visitor_token_hash)
    on public.conversations to authenticated;
grant update (status, assigned_to, closed_at, last_message_at) on public.conversations to authenticated;
grant delete on public.conversations to authenticated;

-- messages: people post lead and human messages and mark what a human answered; tokens, cost,
-- model, errors, reply_to and the channel's ids are the worker's.
grant insert (organization_id, conversation_id, role, author_id, content, status, payload)
    on public.messages to authenticated;
grant update (status, handled_at) on public.messages to authenticated;
grant delete on public.messages to authenticated;

-- lead_events: insert columns stay for the API's own lifecycle events, guarded below.
grant insert (organization_id, lead_id, conversation_id, type, to_stage, actor, data) on public.lead_events to authenticated;

-- integrations and webhook endpoints: plain columns only; secrets move through functions.
grant insert (organization_id, kind, name, agent_id, external_id, config, enabled, created_by)
    on public.integrations to authenticated;
grant update (name, agent_id, external_id, config, enabled) on public.integrations to authenticated;
grant delete on public.integrations to authenticated;
grant insert (organization_id, url, description, events, enabled, created_by) on public.webhook_endpoints to authenticated;
grant update (url, description, events, enabled) on public.webhook_endpoints to authenticated;
grant delete on public.webhook_endpoints to authenticated;

-- knowledge: people add and edit documents; status and chunks belong to the ingestion worker.
grant insert (organization_id, agent_id, title, source_url, content, created_by) on public.knowledge_documents to authenticated;
grant update (agent_id, title, source_url, content) on public.knowledge_documents to authenticated;
grant delete on public.knowledge_documents to authenticated;

-- The policies that the grants above no longer reach go too, so the two never disagree.
drop policy "admins add members" on public.memberships;
drop policy "admins invite" on public.invitations;
drop policy "admins update invitations" on public.invitations;
drop policy "editors add agent versions" on public.agent_versions;
drop policy "editors create agents" on public.agents;
drop policy "editors record conversions" on public.conversions;
drop policy "admins correct conversions" on public.conversions;
drop policy "admins delete conversions" on public.conversions;
drop policy "editors add chunks" on public.knowledge_chunks;
drop policy "editors update chunks" on public.knowledge_chunks;
drop policy "editors delete chunks" on public.knowledge_chunks;

-- A lead event from a user's request records a change that same transaction made: lead.created
-- for a lead it inserted, conversation.* for a conversation it inserted or moved into the matching
-- status. Anything else (lead.qualified, handoff.requested, a replayed conversation.closed) would
-- reach webhooks and CRMs with no rule applied, so only the service path writes it. BEFORE triggers
-- note each change in a transaction-local setting as its row is written (so a later CTE of the same
-- statement sees it; a rolled-back savepoint undoes it with the row).
create function app.note_user_change() returns trigger
language plpgsql set search_path = '' as $$
declare
    v_note text;
begin
    if (select app.is_service_path()) then
        return new;
    end if;
    if tg_op = 'UPDATE' then  -- conversations only (leads have no status); nested, so leads never read it
        if old.status is not distinct from new.status then
            return new;
        end if;
    end if;
    if tg_table_name = 'leads' then
        v_note := new.id::text || ':new';
    else
        v_note := new.id::text || ':' || case when tg_op = 'INSERT' then 'new' else new.status::text end
            || ':' || new.lead_id::text;
    end if;
    perform set_config('app.user_changes', coalesce(current_setting('app.user_changes', true), '') || ' ' || v_note, true);
    return new;
end
$$;
revoke all on function app.note_user_change() from public;
grant execute on function app.note_user_change() to authenticated, service_role;
create trigger leads_note_user_change before insert on public.leads
    for each row execute function app.note_user_change();
create trigger conversations_note_user_insert before insert on public.conversations
    for each row execute function app.note_user_change();
-- No column list or WHEN clause: those would pin the status column's type (another branch may
-- change it); the function compares the statuses itself.
create trigger conversations_note_user_status before update on public.conversations
    for each row execute function app.note_user_change();

create function app.guard_user_lead_event() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
    v_changed text := coalesce(current_setting('app.user_changes', true), '') || ' ';
    v_expected text;
begin
    if (select app.is_service_path()) then
        return new;
    end if;
    v_expected := case new.type
        when 'lead.created' then new.lead_id::text || ':new'
        when 'conversation.started' then new.conversation_id::text || ':new:' || new.lead_id::text
        when 'conversation.taken_over' then new.conversation_id::text || ':human:' || new.lead_id::text
        when 'conversation.released' then new.conversation_id::text || ':bot:' || new.lead_id::text
        when 'conversation.closed' then new.conversation_id::text || ':closed:' || new.lead_id::text
    end;
    if v_expected is null or position(' ' || v_expected || ' ' in v_changed) = 0 then
        raise exception 'lead events of type % are recorded by the service, not written directly', new.type
            using errcode = '42501';
    end if;
    new.actor := 'user:' || (select auth.uid())::text;
    new.from_stage := null;
    new.to_stage := case when new.type = 'lead.created' then 'new' end;
    return new;
end
$$;
revoke all on function app.guard_user_lead_event() from public;
create trigger lead_events_guard_user before insert on public.lead_events
    for each row execute function app.guard_user_lead_event();

-- A message from a user's request is a lead's or a human's words, or a system note, never the
-- assistant's; and a human message is signed by its author.
create function app.guard_user_message() returns trigger
language plpgsql set search_path = '' as $$
begin
    if (select app.is_service_path()) then
        return new;
    end if;
    if new.role not in ('lead', 'human', 'system') then
        raise exception 'messages of role % are written by the service', new.role using errcode = '42501';
    end if;
    if new.role in ('human', 'system') then
        new.author_id := (select auth.uid());
    end if;
    return new;
end
$$;
revoke all on function app.guard_user_message() from public;
grant execute on function app.guard_user_message() to authenticated, service_role;
create trigger messages_guard_user before insert on public.messages
    for each row execute function app.guard_user_message();

-- Every foreign key between tenant rows carries organization_id (a catalogue test enforces it):
-- a reply can only answer a message of the same tenant, so another tenant's pending message can
-- neither be marked answered nor probed for existence.
alter table public.messages drop constraint messages_reply_to_fkey;
alter table public.messages add constraint messages_reply_to_fkey foreign key (reply_to, organization_id)
    references public.messages (id, organization_id) on delete set null (reply_to);
alter table public.agent_versions add constraint agent_versions_organization_agent_version_key
    unique (agent_id, version, organization_id);
alter table public.conversations drop constraint conversations_agent_version_fkey;
alter table public.conversations add constraint conversations_agent_version_fkey
    foreign key (agent_id, agent_version, organization_id)
    references public.agent_versions (agent_id, version, organization_id);

-- Agents are created with their first version in one function (nobody inserts either directly),
-- so it is a security definer now and checks what the dropped insert policies checked.
create or replace function public.create_agent(
    p_organization_id uuid, p_name text, p_config jsonb, p_allowed_origins text[] default '{}'
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
    v_agent public.agents;
begin
    if not (select app.is_service_path()) then
        if p_organization_id is null or p_organization_id not in (select app.my_org_ids()) then
            raise exception 'organization not found' using errcode = 'P0002';
        end if;
        if p_organization_id not in (select app.my_org_ids_with_role('editor')) then
            raise exception 'only owners, admins and editors create agents' using errcode = '42501';
        end if;
    end if;
    insert into public.agents (organization_id, name, allowed_origins, created_by)
    values (p_organization_id, btrim(p_name), coalesce(p_allowed_origins, '{}'), (select auth.uid()))
    returning * into v_agent;
    insert into public.agent_versions (organization_id, agent_id, version, config, created_by)
    values (p_organization_id, v_agent.id, 1, p_config, (select auth.uid()));
    return to_jsonb(v_agent) || jsonb_build_object('config', p_config, 'version', 1);
end
$$;
