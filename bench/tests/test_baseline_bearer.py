"""The baselines verify the gateway's JWT as the gateway does: a forged, expired or
incomplete token is refused before any work (no server, no database needed)."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

SECRET = "bench-test-secret-" + "x" * 32
ISSUER = "ticketing-gateway"
BOOKING = {
    "ticket_type_id": str(uuid.uuid4()),
    "quantity": 1,
    "customer_name": "Sam Fan",
    "customer_email": "fan@example.com",
    "payment_token": "tok_visa",
}


@pytest.fixture(scope="module")
def apps() -> Iterator[dict[str, FastAPI]]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "BENCH_JWT_SECRET": SECRET,
            "BENCH_JWT_ISSUER": ISSUER,
            "BENCH_JWT_LEEWAY_SECONDS": "10",
            # Never reached: the token check answers before the handler runs.
            "BENCH_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "BENCH_PAYMENT_URL": "http://127.0.0.1:1",
            "BENCH_PAYMENT_KEY": "unused",
            "BENCH_SMTP_HOST": "127.0.0.1",
            "BENCH_SMTP_PORT": "1",
        }.items():
            patch.setenv(name, value)
        found: dict[str, FastAPI] = {}
        for module in ("minimal_app", "single_service_app"):
            app: FastAPI = importlib.import_module(f"bench.baseline_apps.{module}").app
            found[module] = app
        yield found


def token(secret: str = SECRET, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "role": "user",
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "ver": 0,
    }
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, "HS256")


async def post_booking(app: FastAPI, authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://baseline") as client:
        response = await client.post("/bookings", json=BOOKING, headers=headers)
    return response.status_code


BAD_TOKENS = {
    "missing": None,
    "not a JWT": "Bearer not-a-token",
    "other secret": f"Bearer {token('another-secret-' + 'y' * 32)}",
    "other issuer": f"Bearer {token(iss='someone-else')}",
    "expired": f"Bearer {token(exp=int(time.time()) - 60)}",
    "no jti": f"Bearer {token(jti=None)}",
    "unknown role": f"Bearer {token(role='root')}",
    "version not a number": f"Bearer {token(ver='0')}",
    "unsigned": "Bearer " + jwt.encode({"sub": "x", "iss": ISSUER}, "", algorithm="none"),
}


@pytest.mark.parametrize("module", ["minimal_app", "single_service_app"])
@pytest.mark.parametrize("authorization", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_bad_token_is_refused(
    apps: dict[str, FastAPI], module: str, authorization: str | None
) -> None:
    assert await post_booking(apps[module], authorization) == 401


async def test_the_gateways_token_passes(apps: dict[str, FastAPI]) -> None:
    assert await post_booking(apps["minimal_app"], f"Bearer {token()}") == 409


async def poll_place(app: FastAPI, authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://baseline") as client:
        response = await client.get("/places/7", headers=headers)
    return response.status_code


@pytest.mark.parametrize("authorization", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_the_minimal_place_poll_refuses_a_bad_token(
    apps: dict[str, FastAPI], authorization: str | None
) -> None:
    assert await poll_place(apps["minimal_app"], authorization) == 401


async def test_the_minimal_place_poll_answers_the_gateways_token(apps: dict[str, FastAPI]) -> None:
    assert await poll_place(apps["minimal_app"], f"Bearer {token()}") == 200
