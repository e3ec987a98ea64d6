-- Agents with versioned configuration, leads, conversations, messages, lead events and conversions.
-- Child rows carry organization_id and reference their parent by (id, organization_id), so a row
-- can never point at another tenant's parent.

create type public.agent_status as enum ('active', 'archived');
create type public.lead_stage as enum ('new', 'engaged', 'qualified', 'handed_off', 'converted', 'lost');
create type public.channel as enum ('web', 'whatsapp', 'api');
create type public.conversation_status as enum ('bot', 'human', 'closed');
create type public.message_role as enum ('lead', 'assistant', 'human', 'system', 'tool');
create type public.message_status as enum ('received', 'queued', 'sent', 'delivered', 'read', 'failed');

create table public.agents (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    name text not null constraint agents_name_check check (length(btrim(name)) between 1 and 120),
    status public.agent_status not null default 'active',
    current_version integer not null default 1 constraint agents_current_version_check check (current_version >= 1),
    publishable_key text not null default 'pk_' || replace(gen_random_uuid()::text, '-', '')
        constraint agents_publishable_key_key unique,
    allowed_origins text[] not null default '{}',
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint agents_id_organization_key unique (id, organization_id)
);
create index agents_organization_id_idx on public.agents (organization_id);
create trigger agents_touch before update on public.agents for each row execute function app.touch_updated_at();

create table public.agent_versions (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    agent_id uuid not null,
    version integer not null constraint agent_versions_version_check check (version >= 1),
    config jsonb not null constraint agent_versions_config_check check (jsonb_typeof(config) = 'object'),
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    constraint agent_versions_agent_version_key unique (agent_id, version),
    constraint agent_versions_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete cascade
);
create index agent_versions_organization_id_idx on public.agent_versions (organization_id);
comment on table public.agent_versions is 'Immutable: an update to an agent inserts a new version.';

create table public.leads (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    name text,
    email text constraint leads_email_check check (email is null or (email = lower(email) and email like '%_@_%')),
    phone text constraint leads_phone_check check (phone is null or phone ~ '^\+[1-9][0-9]{6,14}$'),
    stage public.lead_stage not null default 'new',
    score integer not null default 0 constraint leads_score_check check (score between 0 and 100),
    qualification jsonb not null default '{}'::jsonb,
    consent boolean not null default true,
    source public.channel,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint leads_id_organization_key unique (id, organization_id)
);
create index leads_organization_id_idx on public.leads (organization_id, updated_at desc);
create unique index leads_organization_email_key on public.leads (organization_id, email) where email is not null;
create unique index leads_organization_phone_key on public.leads (organization_id, phone) where phone is not null;
create trigger leads_touch before update on public.leads for each row execute function app.touch_updated_at();

create table public.conversations (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    agent_id uuid not null,
    agent_version integer not null,
    lead_id uuid not null,
    channel public.channel not null,
    status public.conversation_status not null default 'bot',
    assigned_to uuid references auth.users (id) on delete set null,
    summary text,
    cost_usd numeric(14, 6) not null default 0,
    last_message_at timestamptz,
    window_expires_at timestamptz,
    closed_at timestamptz,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint conversations_id_organization_key unique (id, organization_id),
    constraint conversations_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete cascade,
    constraint conversations_agent_version_fkey foreign key (agent_id, agent_version)
        references public.agent_versions (agent_id, version),
    constraint conversations_lead_fkey foreign key (lead_id, organization_id)
        references public.leads (id, organization_id) on delete cascade
);
create index conversations_organization_id_idx on public.conversations (organization_id, last_message_at desc nulls last);
create index conversations_lead_id_idx on public.conversations (lead_id);
create index conversations_agent_id_idx on public.conversations (agent_id);
create trigger conversations_touch before update on public.conversations
    for each row execute function app.touch_updated_at();

create table public.messages (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    conversation_id uuid not null,
    role public.message_role not null,
    author_id uuid references auth.users (id) on delete set null,
    content text not null default '',
    content_type text not null default 'text',
    payload jsonb not null default '{}'::jsonb,
    status public.message_status not null default 'received',
    channel_message_id text,
    tokens_in integer constraint messages_tokens_in_check check (tokens_in >= 0),
    tokens_out integer constraint messages_tokens_out_check check (tokens_out >= 0),
    cost_usd numeric(14, 6),
    model text,
    latency_ms integer constraint messages_latency_ms_check check (latency_ms >= 0),
    error jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint messages_conversation_fkey foreign key (conversation_id, organization_id)
        references public.conversations (id, organization_id) on delete cascade,
    constraint messages_channel_message_id_key unique (organization_id, channel_message_id)
);
create index messages_organization_id_idx on public.messages (organization_id);
create index messages_conversation_id_idx on public.messages (conversation_id, created_at, id);
create trigger messages_touch before update on public.messages for each row execute function app.touch_updated_at();

create table public.lead_events (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    lead_id uuid not null,
    conversation_id uuid,
    type text not null constraint lead_events_type_check check (type ~ '^[a-z_]+(\.[a-z_]+)*$'),
    from_stage public.lead_stage,
    to_stage public.lead_stage,
    data jsonb not null default '{}'::jsonb,
    actor text not null default 'system',
    created_at timestamptz not null default now(),
    constraint lead_events_lead_fkey foreign key (lead_id, organization_id)
        references public.leads (id, organization_id) on delete cascade,
    constraint lead_events_conversation_fkey foreign key (conversation_id, organization_id)
        references public.conversations (id, organization_id) on delete cascade
);
create index lead_events_organization_id_idx on public.lead_events (organization_id);
create index lead_events_lead_id_idx on public.lead_events (lead_id, created_at);
create index lead_events_conversation_id_idx on public.lead_events (conversation_id);
comment on table public.lead_events is 'Append-only history of a lead: every stage transition and field change.';

create table public.conversions (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    lead_id uuid not null,
    conversation_id uuid,
    agent_id uuid,
    agent_version integer,
    type text not null constraint conversions_type_check check (length(type) between 1 and 64),
    value numeric(14, 2) not null default 0 constraint conversions_value_check check (value >= 0),
    currency text not null default 'BRL' constraint conversions_currency_check check (currency ~ '^[A-Z]{3}$'),
    source text not null default 'agent' constraint conversions_source_check check (source in ('agent', 'human', 'crm')),
    external_id text,
    occurred_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    constraint conversions_lead_fkey foreign key (lead_id, organization_id)
        references public.leads (id, organization_id) on delete cascade,
    constraint conversions_conversation_fkey foreign key (conversation_id, organization_id)
        references public.conversations (id, organization_id) on delete set null (conversation_id),
    constraint conversions_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete set null (agent_id),
    constraint conversions_external_id_key unique (organization_id, source, external_id)
);
create index conversions_organization_id_idx on public.conversions (organization_id, occurred_at desc);
create index conversions_lead_id_idx on public.conversions (lead_id);
create index conversions_conversation_id_idx on public.conversions (conversation_id);
create index conversions_agent_id_idx on public.conversions (agent_id);

alter table public.agents enable row level security;
alter table public.agent_versions enable row level security;
alter table public.leads enable row level security;
alter table public.conversations enable row level security;
alter table public.messages enable row level security;
alter table public.lead_events enable row level security;
alter table public.conversions enable row level security;

-- Agents: every member reads; editors and above write. Versions are insert-only.
create policy "members read agents" on public.agents
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors create agents" on public.agents
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "editors update agents" on public.agents
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('editor')))
    with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "admins delete agents" on public.agents
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));

create policy "members read agent versions" on public.agent_versions
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors add agent versions" on public.agent_versions
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));

-- Leads, conversations, messages: members read; editors (the humans who work leads) write.
create policy "members read leads" on public.leads
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors create leads" on public.leads
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "editors update leads" on public.leads
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('editor')))
    with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "admins delete leads" on public.leads
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));

create policy "members read conversations" on public.conversations
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors create conversations" on public.conversations
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "editors update conversations" on public.conversations
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('editor')))
    with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "admins delete conversations" on public.conversations
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));

create policy "members read messages" on public.messages
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors write messages" on public.messages
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "editors update messages" on public.messages
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('editor')))
    with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "admins delete messages" on public.messages
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));

create policy "members read lead events" on public.lead_events
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors append lead events" on public.lead_events
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));

create policy "members read conversions" on public.conversions
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "editors record conversions" on public.conversions
    for insert to authenticated with check (organization_id in (select app.my_org_ids_with_role('editor')));
create policy "admins correct conversions" on public.conversions
    for update to authenticated
    using (organization_id in (select app.my_org_ids_with_role('admin')))
    with check (organization_id in (select app.my_org_ids_with_role('admin')));
create policy "admins delete conversions" on public.conversions
    for delete to authenticated using (organization_id in (select app.my_org_ids_with_role('admin')));

revoke all on public.agents, public.agent_versions, public.leads, public.conversations, public.messages,
    public.lead_events, public.conversions from anon;
