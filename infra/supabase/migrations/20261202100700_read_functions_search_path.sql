-- The read functions of 20261202100000 to 20261202100600 pin their search path like every other function
-- of this project (and as Supabase's advisor asks), instead of relying on schema-qualified names alone.
-- Measured: about 0.01 ms per call (getAgent's one-trip script, 0.243 -> 0.254 ms server-side), which the
-- note in 20261202100000 overestimated; the kept plans are unaffected.
alter function app.read_agent(uuid,integer) set search_path = '';
alter function app.read_conversation(uuid,integer,timestamptz,uuid) set search_path = '';
alter function app.read_experiment_results(uuid) set search_path = '';
alter function app.list_experiments(uuid) set search_path = '';
alter function app.integrations_page(uuid,text,timestamptz,uuid,integer) set search_path = '';
alter function app.list_integrations(uuid,text,timestamptz,uuid,integer) set search_path = '';
alter function app.list_my_organizations() set search_path = '';
alter function app.list_webhook_endpoints(uuid) set search_path = '';
alter function app.list_webhook_deliveries(uuid,timestamptz,uuid,integer) set search_path = '';
alter function app.read_follow_ups(uuid,integer) set search_path = '';
alter function app.list_unanswered_questions(uuid,timestamptz,uuid,integer) set search_path = '';
alter function app.read_knowledge_source(uuid) set search_path = '';
alter function app.list_knowledge_sources(uuid,timestamptz,uuid,integer) set search_path = '';
alter function app.agents_page(uuid,boolean,timestamptz,uuid,integer) set search_path = '';
alter function app.list_agents(uuid,boolean,timestamptz,uuid,integer) set search_path = '';
alter function app.conversations_page(uuid,text,uuid,integer,timestamptz,uuid) set search_path = '';
alter function app.list_conversations(uuid,text,uuid,integer,timestamptz,uuid) set search_path = '';
