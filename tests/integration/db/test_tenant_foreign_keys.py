"""Every foreign key between tenant-owned rows carries organization_id, read from the catalogue.

A key on the id alone lets a row point at another tenant's row (and its error tells whether
that id exists); with organization_id in it, Postgres refuses the pair.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.integration

# A table is tenant-owned when it has an organization_id column (organizations is the tenant itself).
_WITHOUT_ORGANIZATION = """
    select c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
    from pg_constraint c
    where c.contype = 'f' and c.connamespace = 'public'::regnamespace
      and exists (select 1 from pg_attribute a
                  where a.attrelid = c.conrelid and a.attname = 'organization_id' and not a.attisdropped)
      and (c.confrelid = 'public.organizations'::regclass
           or exists (select 1 from pg_attribute a
                      where a.attrelid = c.confrelid and a.attname = 'organization_id' and not a.attisdropped))
      and not exists (
          select 1 from unnest(c.conkey, c.confkey) as k(col, ref)
          join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.col
          join pg_attribute r on r.attrelid = c.confrelid and r.attnum = k.ref
          where a.attname = 'organization_id'
            and r.attname = case when c.confrelid = 'public.organizations'::regclass then 'id'
                                 else 'organization_id' end
      )
    order by 1, 2
"""


def test_every_tenant_foreign_key_includes_organization_id(db: psycopg.Connection[Any]) -> None:
    # given the migrated schema / when its foreign keys between tenant-owned tables are read
    offenders = db.execute(_WITHOUT_ORGANIZATION).fetchall()
    # then each maps organization_id to the referenced row's organization
    assert offenders == []


def test_the_catalogue_check_sees_tenant_foreign_keys(db: psycopg.Connection[Any]) -> None:
    # given a tenant table with a key on the id alone (made in this rolled-back transaction)
    db.execute(
        "create table public.fk_probe (id uuid primary key, organization_id uuid not null,"
        " message_id uuid references public.messages (id))"
    )
    # when the check runs / then it names that key
    offenders = db.execute(_WITHOUT_ORGANIZATION).fetchall()
    assert [name for _, name, _ in offenders] == ["fk_probe_message_id_fkey"]


# A cascading foreign key whose referencing rows no full index leads with: deleting one referenced row
# (a lead's erasure, an organization's deletion) scans the whole referencing table. A partial index
# serves the cascade's lookup only when its predicate is that column being not null.
_CASCADE_WITHOUT_INDEX = """
    select c.conrelid::regclass::text, c.conname
    from pg_constraint c
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
    where c.contype = 'f' and c.connamespace = 'public'::regnamespace and c.confdeltype in ('c', 'n')
      and not exists (
          select 1 from pg_index i
          where i.indrelid = c.conrelid and (i.indkey::int2[])[0] = c.conkey[1]
            and (i.indpred is null or pg_get_expr(i.indpred, i.indrelid) = format('(%I IS NOT NULL)', a.attname))
      )
    order by 1, 2
"""


def test_follow_ups_cascades_are_served_by_an_index(db: psycopg.Connection[Any]) -> None:
    # given the migrated schema / when follow_ups' cascading foreign keys are read
    offenders = [row for row in db.execute(_CASCADE_WITHOUT_INDEX).fetchall() if row[0] == "follow_ups"]
    # then a full index leads with each one's first column
    assert offenders == []
