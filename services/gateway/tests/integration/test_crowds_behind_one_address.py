"""Sign-ups and logins from one address (a campus, a carrier's NAT) on real PostgreSQL and
Redis, with the default limits: a crowd gets in, a script guessing passwords does not.

The gateway limits by the address in the request's scope: the TCP peer, or the address a
trusted proxy forwarded (FORWARDED_ALLOW_IPS). The clients here set that address.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from gateway.bootstrap import build_app, production_adapters
from gateway.settings import GatewaySettings
from service_kit.internal_auth import generate_key_pair

pytestmark = pytest.mark.integration

SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"
PASSWORD = "Sturdy-Horse-42"
TYPO = "Sturdy-Hrose-42"
TOKEN = "/api/v1/auth/token"
REGISTER = "/api/v1/auth/register"
CAMPUS = "203.0.113.7"
SCRIPT = "203.0.113.66"
Gateway = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def gateway(infrastructure, database_factory, redis_key_prefix) -> AsyncIterator[Gateway]:
    """`gateway(address)`: a client the gateway sees at `address`; the limits are the defaults."""
    settings = GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        internal_token_private_key=generate_key_pair()[0],
        jwt_secret=SECRET,
        database_url=await database_factory("gateway_crowds"),
        redis_url=infrastructure.redis_url,
        redis_key_prefix=f"{redis_key_prefix}crowds-{uuid.uuid4().hex[:8]}:",
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        booking_command_url="http://booking-command.test",
        query_projection_url="http://query-projection.test",
        inventory_url="http://inventory.test",
    )
    adapters = production_adapters(settings)
    adapters.transport = httpx.MockTransport(lambda _: httpx.Response(503))
    app = build_app(settings, adapters)
    async with app.router.lifespan_context(app):
        yield lambda address: client_at(app, address)


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


def email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


async def sign_up(client: httpx.AsyncClient, address: str) -> httpx.Response:
    return await client.post(REGISTER, json={"email": address, "password": PASSWORD, "name": "Fan"})


async def log_in(client: httpx.AsyncClient, address: str, password: str) -> httpx.Response:
    return await client.post(TOKEN, data={"username": address, "password": password})


async def test_200_fans_behind_one_address_all_sign_up_and_log_in(gateway: Gateway) -> None:
    fans = [email(f"fan{number}") for number in range(200)]
    # As many at once as the password hashing admits (2 workers, 16 waiting).
    at_once = asyncio.Semaphore(16)

    async def arrive(campus: httpx.AsyncClient, number: int, fan: str) -> list[int]:
        async with at_once:
            statuses = [(await sign_up(campus, fan)).status_code]
            if number % 10 == 0:  # one fan in ten mistypes the password first
                statuses.append((await log_in(campus, fan, TYPO)).status_code)
            statuses.append((await log_in(campus, fan, PASSWORD)).status_code)
            return statuses

    async with gateway(CAMPUS) as campus:
        journeys = await asyncio.gather(
            *(arrive(campus, number, fan) for number, fan in enumerate(fans))
        )

    assert journeys.count([201, 200]) == 180
    assert journeys.count([201, 401, 200]) == 20


async def test_a_script_guessing_passwords_from_one_address_is_stopped_after_100_failures(
    gateway: Gateway,
) -> None:
    victims = [email(f"victim{number}") for number in range(25)]
    async with gateway(CAMPUS) as campus:
        for victim in victims:
            assert (await sign_up(campus, victim)).status_code == 201
    async with gateway(SCRIPT) as script:
        # Four guesses an account: below the accounts' own backoff, which starts at five.
        guesses = [
            (await log_in(script, victim, f"Guess-Number-{guess}")).status_code
            for victim in victims
            for guess in range(4)
        ]
        stopped = await log_in(script, victims[0], PASSWORD)
    async with gateway(CAMPUS) as campus:
        back = [(await log_in(campus, victim, PASSWORD)).status_code for victim in victims]

    assert guesses == [401] * 100
    assert stopped.status_code == 429
    assert stopped.json()["error_type"] == "too_many_failed_logins"
    # The failures fade out of the hour's sliding window: within two hours at most.
    assert 1 <= int(stopped.headers["Retry-After"]) <= 2 * 3600
    assert back == [200] * 25


async def test_an_account_still_backs_off_after_failed_logins_from_many_addresses(
    gateway: Gateway,
) -> None:
    fan = email("targeted")
    async with gateway(CAMPUS) as campus:
        assert (await sign_up(campus, fan)).status_code == 201
    guesses = []
    for number in range(5):
        async with gateway(f"192.0.2.{number + 1}") as script:
            guesses.append((await log_in(script, fan, TYPO)).status_code)
    async with gateway(CAMPUS) as campus:
        backing_off = await log_in(campus, fan, PASSWORD)

    assert guesses == [401] * 5
    assert backing_off.status_code == 429
    assert backing_off.json()["error_type"] == "rate_limited"
    assert "for this account" in backing_off.json()["detail"]
    assert int(backing_off.headers["Retry-After"]) >= 1


async def test_an_address_probing_for_registered_emails_is_stopped_after_100(
    gateway: Gateway,
) -> None:
    taken = [email(f"taken{number}") for number in range(10)]
    async with gateway(CAMPUS) as campus:
        for address in taken:
            assert (await sign_up(campus, address)).status_code == 201
    async with gateway(SCRIPT) as script:
        probes = [(await sign_up(script, taken[number % 10])).status_code for number in range(100)]
        stopped = await sign_up(script, email("unknown"))
    async with gateway(CAMPUS) as campus:
        newcomer = await sign_up(campus, email("newcomer"))

    assert probes == [409] * 100
    assert stopped.status_code == 429
    assert stopped.json()["error_type"] == "too_many_failed_sign_ups"
    assert 1 <= int(stopped.headers["Retry-After"]) <= 2 * 3600
    assert newcomer.status_code == 201
