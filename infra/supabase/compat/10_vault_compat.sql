-- Supabase Vault's interface (vault.secrets, vault.create_secret, vault.update_secret and the
-- vault.decrypted_secrets view), created only where no vault schema exists. On Supabase, and on
-- the Supabase CLI's local stack, the real extension is there and this whole script is a no-op.
--
-- Ciphertext and key are kept apart: vault.secrets holds base64(nonce || ciphertext || tag), and the
-- 32-byte root key sits in vault.root_key, a one-row table only the owner can read (Supabase keeps
-- its root key outside the database; a GUC would be readable by every role through current_setting).
-- The embedded Postgres the project runs on is built without pgcrypto, so the cipher is built from
-- core sha256(): HMAC-SHA256 in counter mode as the keystream, then an HMAC-SHA256 tag over the
-- secret's id, nonce and ciphertext (encrypt-then-MAC), with separate keys derived for each.
-- It stands in for libsodium on laptops and in tests only; it is never deployed.

do $compat$
begin
    if exists (select 1 from pg_namespace where nspname = 'vault') then
        return;
    end if;

    execute $ddl$
        create schema vault;

        create table vault.root_key (
            singleton boolean primary key default true check (singleton),
            key bytea not null check (octet_length(key) = 32)
        );
        -- gen_random_uuid() draws from pg_strong_random(); two of them carry 244 random bits.
        insert into vault.root_key (key)
        values (decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex'));

        create table vault.secrets (
            id uuid primary key default gen_random_uuid(),
            name text,
            description text not null default '',
            secret text not null,
            key_id uuid,
            nonce bytea,
            created_at timestamptz not null default current_timestamp,
            updated_at timestamptz not null default current_timestamp
        );
        comment on table vault.secrets is 'Table with encrypted `secret` column for storing sensitive information on disk.';
        create unique index secrets_name_idx on vault.secrets (name) where name is not null;

        create function vault._hmac(p_key bytea, p_message bytea) returns bytea
        language plpgsql immutable strict set search_path = '' as $fn$
        declare
            v_key bytea := p_key || decode(repeat('00', 64 - octet_length(p_key)), 'hex');
            v_inner bytea := v_key;
            v_outer bytea := v_key;
        begin
            for i in 0 .. 63 loop
                v_inner := set_byte(v_inner, i, get_byte(v_key, i) # 54);  -- 0x36, RFC 2104 ipad
                v_outer := set_byte(v_outer, i, get_byte(v_key, i) # 92);  -- 0x5c, opad
            end loop;
            return sha256(v_outer || sha256(v_inner || p_message));
        end
        $fn$;

        create function vault._keystream_xor(p_key bytea, p_nonce bytea, p_data bytea) returns bytea
        language plpgsql immutable strict set search_path = '' as $fn$
        declare
            v_out bytea := p_data;
            v_block bytea;
        begin
            for i in 0 .. octet_length(p_data) - 1 loop
                if i % 32 = 0 then
                    v_block := vault._hmac(p_key, p_nonce || int4send(i / 32));
                end if;
                v_out := set_byte(v_out, i, get_byte(p_data, i) # get_byte(v_block, i % 32));
            end loop;
            return v_out;
        end
        $fn$;

        create function vault._subkey(p_purpose text) returns bytea
        language sql stable set search_path = '' as $fn$
            select vault._hmac(k.key, convert_to(p_purpose, 'utf8')) from vault.root_key k
        $fn$;

        create function vault._encrypt(p_plaintext text, p_id uuid) returns text
        language plpgsql volatile set search_path = '' as $fn$
        declare
            v_nonce bytea := uuid_send(gen_random_uuid());
            v_cipher bytea := vault._keystream_xor(vault._subkey('encrypt'), v_nonce, convert_to(p_plaintext, 'utf8'));
        begin
            return encode(v_nonce || v_cipher || vault._hmac(vault._subkey('mac'), uuid_send(p_id) || v_nonce || v_cipher),
                          'base64');
        end
        $fn$;

        create function vault._decrypt(p_secret text, p_id uuid) returns text
        language plpgsql stable set search_path = '' as $fn$
        declare
            v_raw bytea := decode(p_secret, 'base64');
            v_nonce bytea := substring(v_raw from 1 for 16);
            v_cipher bytea := substring(v_raw from 17 for octet_length(v_raw) - 48);
            v_tag bytea := substring(v_raw from octet_length(v_raw) - 31);
        begin
            if vault._hmac(vault._subkey('mac'), uuid_send(p_id) || v_nonce || v_cipher) <> v_tag then
                raise exception 'vault secret % failed authentication', p_id using errcode = '39000';
            end if;
            return convert_from(vault._keystream_xor(vault._subkey('encrypt'), v_nonce, v_cipher), 'utf8');
        end
        $fn$;

        create function vault.create_secret(
            new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null
        ) returns uuid
        language plpgsql set search_path = '' as $fn$
        declare
            v_id uuid := gen_random_uuid();
        begin
            insert into vault.secrets (id, name, description, secret)
            values (v_id, new_name, coalesce(new_description, ''), vault._encrypt(new_secret, v_id));
            return v_id;
        end
        $fn$;

        create function vault.update_secret(
            secret_id uuid, new_secret text default null, new_name text default null,
            new_description text default null, new_key_id uuid default null
        ) returns void
        language plpgsql set search_path = '' as $fn$
        begin
            update vault.secrets s set
                secret = case when new_secret is null then s.secret else vault._encrypt(new_secret, s.id) end,
                name = coalesce(new_name, s.name),
                description = coalesce(new_description, s.description),
                updated_at = now()
            where s.id = secret_id;
        end
        $fn$;

        create view vault.decrypted_secrets as
        select s.id, s.name, s.description, s.secret, vault._decrypt(s.secret, s.id) as decrypted_secret,
               s.key_id, s.nonce, s.created_at, s.updated_at
        from vault.secrets s;

        -- As on Supabase, the API roles get nothing here; the owner (postgres) reaches the vault, and the
        -- application goes through security-definer wrappers (app.store_secret, app.read_secrets, ...).
        -- (00_supabase_compat.sql, applied first, created the roles.)
        revoke all on schema vault from public, anon, authenticated, service_role;
        revoke all on all tables in schema vault from public, anon, authenticated, service_role;
        revoke all on all functions in schema vault from public, anon, authenticated, service_role;
    $ddl$;
end
$compat$;
