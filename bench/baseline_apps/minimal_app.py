"""The smallest useful FastAPI endpoint: the ceiling for any Python HTTP service here."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}
