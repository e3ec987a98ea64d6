"""Warm floor: Mangum + FastAPI + what every authenticated read costs before it reads anything.

One round trip, as ``shared.db.user_read`` sends it: ``begin``, the role and the caller's claims for the
transaction, one statement (``select 1``), ``commit``; the script's results stepped past as ours are.
No auth, middleware, models or RLS'd tables: the read functions' ratio to this floor is what our code
and their own statements cost beyond the transaction every PostgREST-style read opens.
"""

import json
import os

import psycopg
from fastapi import FastAPI
from mangum import Mangum

# A Supabase access token's claims, of the usual size (the role's policies are never consulted by `select 1`).
CLAIMS = json.dumps(
    {
        "iss": "http://127.0.0.1:54321/auth/v1",
        "sub": "00000000-0000-4000-8000-000000000000",
        "aud": "authenticated",
        "exp": 4102444800,
        "iat": 1767225600,
        "email": "floor@example.com",
        "role": "authenticated",
        "aal": "aal1",
        "session_id": "00000000-0000-4000-8000-000000000001",
        "is_anonymous": False,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
    },
    separators=(",", ":"),
)
SCRIPT = (
    "begin; select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '"
    + CLAIMS
    + "', true), set_config('statement_timeout', '8000', true); select 1; commit"
).encode()

app = FastAPI()
_conn: psycopg.AsyncConnection | None = None


@app.get("/rls-select")
async def rls_select() -> dict[str, int]:
    global _conn
    if _conn is None:
        _conn = await psycopg.AsyncConnection.connect(
            os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None
        )
    async with _conn.cursor() as cur:
        await cur.execute(SCRIPT)
        cur.nextset()  # past BEGIN
        cur.nextset()  # past set_config
        row = await cur.fetchone()
    return {"value": row[0] if row else 0}


handler = Mangum(app, lifespan="off")
