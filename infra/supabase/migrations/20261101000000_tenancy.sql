-- Tenancy: organizations, memberships and invitations, with the security-definer
-- helpers every other table's policies use.

create schema if not exists app;
revoke all on schema app from public;
grant usage on schema app to authenticated, service_role;

create type public.member_role as enum ('owner', 'admin', 'editor', 'viewer');
comment on type public.member_role is 'Declared from most to least powerful, so role <= ''admin'' means admin or owner.';

create function app.touch_updated_at() returns trigger
language plpgsql set search_path = '' as $$
begin
    new.updated_at := now();
    return new;
end
$$;

create table public.organizations (
    id uuid primary key default gen_random_uuid(),
    name text not null constraint organizations_name_check check (length(btrim(name)) between 1 and 120),
    slug text not null constraint organizations_slug_key unique
        constraint organizations_slug_check check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    created_by uuid references auth.users (id) on delete set null,
    settings jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index organizations_created_by_idx on public.organizations (created_by);
create trigger organizations_touch before update on public.organizations
    for each row execute function app.touch_updated_at();

create table public.memberships (
    organization_id uuid not null references public.organizations (id) on delete cascade,
    user_id uuid not null references auth.users (id) on delete cascade,
    role public.member_role not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (organization_id, user_id)
);
create index memberships_user_id_idx on public.memberships (user_id);
create trigger memberships_touch before update on public.memberships
    for each row execute function app.touch_updated_at();

create table public.invitations (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    email text not null constraint invitations_email_check check (email = lower(email) and email like '%_@_%'),
    role public.member_role not null,
    status text not null default 'pending'
        constraint invitations_status_check check (status in ('pending', 'accepted', 'revoked', 'expired')),
    invited_by uuid references auth.users (id) on delete set null,
    accepted_by uuid references auth.users (id) on delete set null,
    expires_at timestamptz not null default now() + interval '14 days',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index invitations_organization_id_idx on public.invitations (organization_id);
create unique index invitations_pending_email_key on public.invitations (organization_id, email)
    where status = 'pending';
create index invitations_email_idx on public.invitations (email) where status = 'pending';
create trigger invitations_touch before update on public.invitations
    for each row execute function app.touch_updated_at();

-- Membership lookups for policies. SECURITY DEFINER so that policies on memberships
-- itself do not recurse; wrapped in (select ...) by callers so they run once per statement.
create function app.my_org_ids() returns setof uuid
language sql stable security definer set search_path = '' as $$
    select m.organization_id from public.memberships m where m.user_id = (select auth.uid())
$$;

create function app.my_org_ids_with_role(min_role public.member_role) returns setof uuid
language sql stable security definer set search_path = '' as $$
    select m.organization_id from public.memberships m
    where m.user_id = (select auth.uid()) and m.role <= min_role
$$;

revoke all on function app.my_org_ids(), app.my_org_ids_with_role(public.member_role) from public;
grant execute on function app.my_org_ids(), app.my_org_ids_with_role(public.member_role)
    to authenticated, service_role;

-- An organization always keeps at least one owner.
create function app.keep_an_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if old.role = 'owner'
       and (tg_op = 'DELETE' or new.role <> 'owner')
       and exists (select 1 from public.organizations o where o.id = old.organization_id)
       and not exists (
           select 1 from public.memberships m
           where m.organization_id = old.organization_id and m.role = 'owner' and m.user_id <> old.user_id
       ) then
        raise exception 'an organization must keep at least one owner' using errcode = 'P0001';
    end if;
    return case when tg_op = 'DELETE' then old else new end;
end
$$;
create trigger memberships_keep_an_owner before update of role or delete on public.memberships
    for each row execute function app.keep_an_owner();

alter table public.organizations enable row level security;
alter table public.memberships enable row level security;
alter table public.invitations enable row level security;

create policy "members read their organizations" on public.organizations
    for select to authenticated using (id in (select app.my_org_ids()));
create policy "admins update their organizations" on public.organizations
    for update to authenticated
    using (id in (select app.my_org_ids_with_role('admin')))
    with check (id in (select app.my_org_ids_with_role('admin')));
create policy "owners delete their organizations" on public.organizations
    for delete to authenticated using (id in (select app.my_org_ids_with_role('owner')));
-- Organizations are created through public.create_organization(), which also makes the owner.

create policy "members read co-members" on public.memberships
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "admins add members" on public.memberships
    for insert to authenticated with check (
        organization_id in (select app.my_org_ids_with_role('admin'))
        and (role <> 'owner' or organization_id in (select app.my_org_ids_with_role('owner')))
    );
create policy "admins change roles" on public.memberships
    for update to authenticated
    using (
        organization_id in (select app.my_org_ids_with_role('admin'))
        and (role <> 'owner' or organization_id in (select app.my_org_ids_with_role('owner')))
    )
    with check (
        organization_id in (select app.my_org_ids_with_role('admin'))
        and (role <> 'owner' or organization_id in (select app.my_org_ids_with_role('owner')))
    );
create policy "admins remove members, anyone leaves" on public.memberships
    for delete to authenticated using (
        user_id = (select auth.uid())
        or (
            organization_id in (select app.my_org_ids_with_role('admin'))
            and (role <> 'owner' or organization_id in (select app.my_org_ids_with_role('owner')))
        )
    );

create policy "admins read invitations" on public.invitations
    for select to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));
create policy "admins invite" on public.invitations
    for insert to authenticated with check (
        organization_id in (select app.my_org_ids_with_role('admin'))
        and (role <> 'owner' or organization_id in (select app.my_org_ids_with_role('owner')))
    );
create policy "admins update invitations" on public.invitations
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('admin')))
    with check (
        organization_id in (select app.my_org_ids_with_role('admin'))
        and (role <> 'owner' or organization_id in (select app.my_org_ids_with_role('owner')))
    );
create policy "admins delete invitations" on public.invitations
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));

-- Creating an organization makes the caller its owner, in one transaction.
create function public.create_organization(p_name text, p_slug text default null)
returns public.organizations
language plpgsql security definer set search_path = '' as $$
declare
    v_user uuid := (select auth.uid());
    v_base text;
    v_slug text := p_slug;
    v_org public.organizations;
begin
    if v_user is null then
        raise exception 'sign in to create an organization' using errcode = '42501';
    end if;
    if v_slug is null then
        v_base := translate(lower(btrim(p_name)), 'áàâãäåéèêëíìîïóòôõöúùûüçñ', 'aaaaaaeeeeiiiiooooouuuucn');
        v_base := left(btrim(regexp_replace(v_base, '[^a-z0-9]+', '-', 'g'), '-'), 50);
        if length(v_base) < 2 then
            v_base := 'org';
        end if;
        v_slug := v_base;
        while exists (select 1 from public.organizations o where o.slug = v_slug) loop
            v_slug := v_base || '-' || substr(md5(random()::text), 1, 6);
        end loop;
    end if;
    insert into public.organizations (name, slug, created_by)
    values (btrim(p_name), v_slug, v_user)
    returning * into v_org;
    insert into public.memberships (organization_id, user_id, role) values (v_org.id, v_user, 'owner');
    return v_org;
end
$$;

-- Add a signed-up user with a role, or invite an e-mail nobody has signed up with yet.
create function public.add_organization_member(p_organization_id uuid, p_email text, p_role public.member_role)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
    v_caller_role public.member_role;
    v_email text := lower(btrim(p_email));
    v_user uuid;
    v_invitation uuid;
begin
    select m.role into v_caller_role from public.memberships m
    where m.organization_id = p_organization_id and m.user_id = (select auth.uid());
    if v_caller_role is null then
        raise exception 'organization not found' using errcode = 'P0002';
    end if;
    if v_caller_role > 'admin' then
        raise exception 'only owners and admins add members' using errcode = '42501';
    end if;
    if p_role = 'owner' and v_caller_role <> 'owner' then
        raise exception 'only owners grant the owner role' using errcode = '42501';
    end if;

    select u.id into v_user from auth.users u where lower(u.email) = v_email order by u.created_at limit 1;
    if v_user is not null then
        insert into public.memberships (organization_id, user_id, role) values (p_organization_id, v_user, p_role);
        return jsonb_build_object('status', 'added', 'email', v_email, 'role', p_role, 'user_id', v_user);
    end if;

    insert into public.invitations (organization_id, email, role, invited_by)
    values (p_organization_id, v_email, p_role, (select auth.uid()))
    on conflict (organization_id, email) where status = 'pending'
    do update set role = excluded.role, invited_by = excluded.invited_by,
                  expires_at = now() + interval '14 days'
    returning id into v_invitation;
    return jsonb_build_object('status', 'invited', 'email', v_email, 'role', p_role, 'invitation_id', v_invitation);
end
$$;

revoke all on function public.create_organization(text, text) from public, anon;
revoke all on function public.add_organization_member(uuid, text, public.member_role) from public, anon;
grant execute on function public.create_organization(text, text) to authenticated, service_role;
grant execute on function public.add_organization_member(uuid, text, public.member_role) to authenticated, service_role;

-- A new Supabase Auth user accepts the pending invitations sent to their e-mail.
create function app.accept_invitations() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if new.email is null then
        return new;
    end if;
    insert into public.memberships (organization_id, user_id, role)
    select i.organization_id, new.id, i.role from public.invitations i
    where i.email = lower(new.email) and i.status = 'pending' and i.expires_at > now()
    on conflict (organization_id, user_id) do nothing;
    update public.invitations i set status = 'accepted', accepted_by = new.id
    where i.email = lower(new.email) and i.status = 'pending' and i.expires_at > now();
    return new;
end
$$;
create trigger on_auth_user_created_accept_invitations after insert on auth.users
    for each row execute function app.accept_invitations();

revoke all on public.organizations, public.memberships, public.invitations from anon;
