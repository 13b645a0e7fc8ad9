"""Sign-ups and logins per client address: failures are limited, a crowd's successes are not."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.settings import GatewaySettings
from service_kit.internal_auth import generate_key_pair
from service_kit.settings import ConfigurationError, load_settings

TOKEN = "/api/v1/auth/token"
REGISTER = "/api/v1/auth/register"
WRONG_PASSWORD = "Wrong-Horse-1"


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests the gateway sees coming from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


def sign_up(email: str, password: str) -> dict[str, str]:
    return {"email": email, "password": password, "name": "Fan"}


async def test_successful_logins_from_one_address_are_not_limited(gateway_factory) -> None:
    async with gateway_factory(rate_limit_login_failures="2/minute") as gateway:
        await gateway.register("regular@example.com")
        login = {"username": "regular@example.com", "password": gateway.PASSWORD}

        answers = [await gateway.client.post(TOKEN, data=login) for _ in range(20)]

        assert {answer.status_code for answer in answers} == {200}


async def test_an_address_is_stopped_after_its_failed_logins_but_not_another(
    gateway_factory,
) -> None:
    async with gateway_factory(rate_limit_login_failures="3/minute") as gateway:
        for name in ("ann", "bob", "cat", "dan"):
            await gateway.register(f"{name}@example.com")
        async with client_at(gateway.app, "203.0.113.66") as script:
            guesses = [
                await script.post(
                    TOKEN, data={"username": f"{name}@example.com", "password": WRONG_PASSWORD}
                )
                for name in ("ann", "bob", "cat")
            ]
            # Even a right password: the address is refused before any password is checked.
            stopped = await script.post(
                TOKEN, data={"username": "dan@example.com", "password": gateway.PASSWORD}
            )
        async with client_at(gateway.app, "198.51.100.7") as dan:
            elsewhere = await dan.post(
                TOKEN, data={"username": "dan@example.com", "password": gateway.PASSWORD}
            )

    assert [guess.status_code for guess in guesses] == [401, 401, 401]
    assert stopped.status_code == 429
    assert stopped.json()["error_type"] == "too_many_failed_logins"
    assert "from your address" in stopped.json()["detail"]
    assert 1 <= int(stopped.headers["Retry-After"]) <= 120  # the failures fade within 2 windows
    assert elsewhere.status_code == 200


async def test_an_address_naming_taken_emails_is_stopped_but_not_another(
    gateway_factory,
) -> None:
    async with gateway_factory(rate_limit_register_taken_emails="2/minute") as gateway:
        await gateway.register("taken-1@example.com")
        await gateway.register("taken-2@example.com")
        async with client_at(gateway.app, "203.0.113.66") as prober:
            probes = [
                await prober.post(REGISTER, json=sign_up(email, gateway.PASSWORD))
                for email in ("taken-1@example.com", "taken-2@example.com")
            ]
            # A 201 would tell the prober the email has no account: refused as well.
            stopped = await prober.post(REGISTER, json=sign_up("new@example.com", gateway.PASSWORD))
        async with client_at(gateway.app, "198.51.100.7") as fan:
            elsewhere = await fan.post(REGISTER, json=sign_up("new@example.com", gateway.PASSWORD))

    assert [probe.status_code for probe in probes] == [409, 409]
    assert stopped.status_code == 429
    assert stopped.json()["error_type"] == "too_many_failed_sign_ups"
    assert 1 <= int(stopped.headers["Retry-After"]) <= 120
    assert elsewhere.status_code == 201


async def test_weak_passwords_do_not_count_against_the_address(gateway_factory) -> None:
    async with gateway_factory(rate_limit_register_taken_emails="1/minute") as gateway:
        weak = [
            await gateway.client.post(REGISTER, json=sign_up("fan@example.com", "password"))
            for _ in range(5)
        ]
        strong = await gateway.client.post(
            REGISTER, json=sign_up("fan@example.com", gateway.PASSWORD)
        )

    assert {answer.status_code for answer in weak} == {422}
    assert strong.status_code == 201


async def test_sign_ups_from_one_address_have_a_cap(gateway_factory) -> None:
    async with gateway_factory(rate_limit_register="3/minute") as gateway:
        answers = [
            await gateway.client.post(
                REGISTER, json=sign_up(f"fan-{number}@example.com", gateway.PASSWORD)
            )
            for number in range(4)
        ]

    assert [answer.status_code for answer in answers] == [201, 201, 201, 429]
    assert answers[-1].json()["error_type"] == "rate_limited"
    assert answers[-1].headers["X-RateLimit-Limit"] == "3"
    assert int(answers[-1].headers["Retry-After"]) >= 1


# ---------------------------------------------------------------- settings


@pytest.fixture
def gateway_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("JWT_SECRET", "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx")
    monkeypatch.setenv("INTERNAL_TOKEN_PRIVATE_KEY", generate_key_pair()[0])
    return monkeypatch


def test_the_default_limits_let_a_crowd_of_200_through(
    gateway_environment: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(GatewaySettings)

    assert settings.rate_limit_register == "600/hour"
    assert settings.rate_limit_register_taken_emails == "100/hour"
    assert settings.rate_limit_login_failures == "100/hour"


@pytest.mark.parametrize(
    "variable", ["RATE_LIMIT_LOGIN_FAILURES", "RATE_LIMIT_REGISTER_TAKEN_EMAILS"]
)
def test_a_limit_that_refuses_everything_stops_the_start(
    gateway_environment: pytest.MonkeyPatch, variable: str
) -> None:
    gateway_environment.setenv(variable, "0/hour")
    with pytest.raises(ConfigurationError, match=rf"{variable}: .*at least 1"):
        load_settings(GatewaySettings)
    gateway_environment.setenv(variable, "many")
    with pytest.raises(ConfigurationError, match=rf"{variable}: .*pattern"):
        load_settings(GatewaySettings)


def test_the_retired_login_limit_stops_the_start_naming_its_successor(
    gateway_environment: pytest.MonkeyPatch,
) -> None:
    gateway_environment.setenv("RATE_LIMIT_LOGIN", "10/minute")
    with pytest.raises(ConfigurationError, match=r"RATE_LIMIT_LOGIN: .*RATE_LIMIT_LOGIN_FAILURES"):
        load_settings(GatewaySettings)
