-- TRUNCATE ignores RLS, and Supabase's default privileges grant it (with REFERENCES and TRIGGER) to the
-- API roles on every table in public. Nothing here needs them: take them back, now and for later tables.
revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
alter default privileges in schema public revoke truncate, references, trigger on tables from anon, authenticated;
