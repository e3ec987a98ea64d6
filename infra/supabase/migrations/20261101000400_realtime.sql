-- Supabase Realtime pushes conversation and message changes to the web, under the same RLS.
alter publication supabase_realtime add table public.conversations, public.messages;
