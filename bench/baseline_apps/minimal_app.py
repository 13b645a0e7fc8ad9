"""The smallest endpoints that verify the caller's JWT as the gateway does: a booking
answered 409 (the ceiling for sold-out answers) and a place poll (the ceiling for the
waiting room's)."""

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bench.baseline_apps.bearer import CallerId

app = FastAPI()


@app.post("/bookings")
async def sold_out(_: CallerId) -> JSONResponse:
    return JSONResponse({"error_type": "sold_out"}, status_code=409)


@app.get("/places/{place}")
async def place(place: int, _: CallerId) -> JSONResponse:
    """The queue's ceiling: a place poll that only verifies the token."""
    return JSONResponse({"state": "waiting", "position": place}, headers={"Retry-After": "5"})
