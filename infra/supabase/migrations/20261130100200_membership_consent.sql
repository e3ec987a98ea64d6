-- Membership needs consent. Adding a member only invites: the answer is the same whether or not the
-- e-mail has an account (so it enumerates nothing), and the invitee joins by accepting it, signed in
-- with that e-mail confirmed. Sign-up no longer accepts invitations by itself.

drop trigger on_auth_user_created_accept_invitations on auth.users;
drop function app.accept_invitations();

create or replace function public.add_organization_member(p_organization_id uuid, p_email text, p_role public.member_role)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
    v_caller_role public.member_role;
    v_email text := lower(btrim(p_email));
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
    insert into public.invitations (organization_id, email, role, invited_by)
    values (p_organization_id, v_email, p_role, (select auth.uid()))
    on conflict (organization_id, email) where status = 'pending'
    do update set role = excluded.role, invited_by = excluded.invited_by,
                  expires_at = now() + interval '14 days'
    returning id into v_invitation;
    return jsonb_build_object('status', 'invited', 'email', v_email, 'role', p_role, 'invitation_id', v_invitation);
end
$$;

-- The caller's confirmed e-mail, or null: an unconfirmed address proves nothing.
create function app.my_confirmed_email() returns text
language sql stable security definer set search_path = '' as $$
    select lower(u.email) from auth.users u
    where u.id = (select auth.uid()) and u.email_confirmed_at is not null
$$;
revoke all on function app.my_confirmed_email() from public;
grant execute on function app.my_confirmed_email() to authenticated, service_role;

-- The invitee sees their own pending invitations (the e-mail must be confirmed).
create policy "invitees read their invitations" on public.invitations
    for select to authenticated using (
        status = 'pending' and expires_at > now() and email = (select app.my_confirmed_email())
    );

-- Pending invitations to the caller's confirmed e-mail, with the organization's name.
create function public.my_invitations()
returns table (id uuid, organization_id uuid, organization_name text, role public.member_role,
               expires_at timestamptz, created_at timestamptz)
language sql stable security definer set search_path = '' as $$
    select i.id, i.organization_id, o.name, i.role, i.expires_at, i.created_at
    from public.invitations i join public.organizations o on o.id = i.organization_id
    where i.status = 'pending' and i.expires_at > now() and i.email = (select app.my_confirmed_email())
    order by i.created_at, i.id
$$;

-- Accept one invitation: the caller must be signed in with the invited e-mail, confirmed. Anything
-- else (someone else's invitation, expired, already used, unknown) is "not found", so nothing leaks.
create function public.accept_invitation(p_invitation_id uuid) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
    v_email text := (select app.my_confirmed_email());
    v_invitation public.invitations;
begin
    if (select auth.uid()) is null then
        raise exception 'sign in to accept an invitation' using errcode = '42501';
    end if;
    select * into v_invitation from public.invitations i
    where i.id = p_invitation_id and i.status = 'pending' and i.expires_at > now()
      and v_email is not null and i.email = v_email
    for update;
    if v_invitation.id is null then
        raise exception 'invitation not found' using errcode = 'P0002';
    end if;
    insert into public.memberships (organization_id, user_id, role)
    values (v_invitation.organization_id, (select auth.uid()), v_invitation.role)
    on conflict (organization_id, user_id) do nothing;
    update public.invitations i set status = 'accepted', accepted_by = (select auth.uid()) where i.id = v_invitation.id;
    return jsonb_build_object('organization_id', v_invitation.organization_id, 'role',
        (select m.role from public.memberships m
         where m.organization_id = v_invitation.organization_id and m.user_id = (select auth.uid())));
end
$$;

revoke all on function public.my_invitations(), public.accept_invitation(uuid) from public, anon;
grant execute on function public.my_invitations(), public.accept_invitation(uuid) to authenticated, service_role;
