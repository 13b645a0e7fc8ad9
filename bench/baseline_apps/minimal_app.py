"""The smallest endpoint that answers a booking as sold out: it verifies the caller's JWT as
the gateway does, then answers 409. The ceiling for the platform's sold-out answers."""

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bench.baseline_apps.bearer import CallerId

app = FastAPI()


@app.post("/bookings")
async def sold_out(_: CallerId) -> JSONResponse:
    return JSONResponse({"error_type": "sold_out"}, status_code=409)
