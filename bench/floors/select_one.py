"""Warm floor: Mangum + FastAPI + one SELECT on a connection held by the container."""

import os

import psycopg
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()
_conn: psycopg.AsyncConnection | None = None


@app.get("/select")
async def select_one() -> dict[str, int]:
    global _conn
    if _conn is None:
        _conn = await psycopg.AsyncConnection.connect(
            os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None
        )
    cur = await _conn.execute("select 1")
    row = await cur.fetchone()
    return {"value": row[0] if row else 0}


handler = Mangum(app, lifespan="off")
