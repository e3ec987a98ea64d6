-- Demo data for local development (`supabase db reset` runs this file too). Idempotent.
insert into auth.users (id, email, email_confirmed_at)
values ('00000000-0000-4000-8000-0000000000a1', 'demo@example.com', now())
on conflict (id) do nothing;

insert into public.organizations (id, name, slug, created_by)
values ('00000000-0000-4000-8000-000000000001', 'Demo Imobiliária', 'demo', '00000000-0000-4000-8000-0000000000a1')
on conflict (id) do nothing;

insert into public.memberships (organization_id, user_id, role)
values ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000a1', 'owner')
on conflict (organization_id, user_id) do nothing;

insert into public.agents (id, organization_id, name, publishable_key, allowed_origins, created_by)
values (
    '00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-000000000001', 'Sofia (SDR)',
    'pk_demo_00000000000000000000000000', array['http://localhost:3001', 'http://127.0.0.1:3001'],
    '00000000-0000-4000-8000-0000000000a1'
)
on conflict (id) do nothing;

insert into public.agent_versions (organization_id, agent_id, version, config, created_by)
values (
    '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000b1', 1,
    jsonb_build_object(
        'persona', 'Sofia, consultora de imóveis simpática e objetiva',
        'instructions', 'Qualifique o lead com BANT e ofereça uma visita quando ele estiver qualificado.',
        'goal', 'book_meeting',
        'language', 'pt-BR',
        'model', 'fast',
        'temperature', 0.3,
        'qualification_fields', jsonb_build_array(
            jsonb_build_object('name', 'name', 'type', 'text', 'required', true, 'description', 'Nome do lead'),
            jsonb_build_object('name', 'email', 'type', 'email', 'required', true, 'description', 'E-mail'),
            jsonb_build_object('name', 'phone', 'type', 'phone', 'required', false, 'description', 'Telefone'),
            jsonb_build_object('name', 'budget', 'type', 'money', 'required', true, 'description', 'Orçamento'),
            jsonb_build_object('name', 'timeline', 'type', 'text', 'required', true, 'description', 'Prazo')
        )
    ),
    '00000000-0000-4000-8000-0000000000a1'
)
on conflict (agent_id, version) do nothing;

-- The organization got its default budget when it was created; the demo's limits, once (audited).
select public.set_budget('00000000-0000-4000-8000-000000000001', null, 50, 0.5)
where not exists (select 1 from public.budget_changes where organization_id = '00000000-0000-4000-8000-000000000001');
