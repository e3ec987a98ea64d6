"""Cold-start floor: a bare FastAPI + Mangum hello function."""

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


handler = Mangum(app, lifespan="off")
