"""Bounded password hashing, per-account login backoff, revocable tokens, fresh roles, audit."""

import asyncio
import json
import logging
import threading
import uuid

import jwt
import pytest

from gateway.adapters.login_throttle import Backoff, InMemoryLoginThrottle
from gateway.adapters.passwords import (
    Argon2PasswordHasher,
    BoundedPasswordHashing,
    PasswordHashingBusyError,
)
from gateway.bootstrap import GatewayAdapters
from service_kit.structured_logging import JsonFormatter

VENUE = {"name": "Royal Albert Hall", "capacity": 5272, "address": "Kensington Gore, London"}
NEW_PASSWORD = "Brand-New-Horse-77"


class GatedHasher:
    """A real hasher that, once closed, holds every call at the gate until it is opened."""

    def __init__(self) -> None:
        self._real = Argon2PasswordHasher(time_cost=1, memory_kib=1024)
        self.calls = 0
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def hash(self, password: str) -> str:
        return self._pass(lambda: self._real.hash(password))

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        return self._pass(lambda: self._real.verify(password, password_hash))

    def _pass(self, work):  # type: ignore[no-untyped-def]
        self.calls += 1
        self.entered.set()
        assert self.gate.wait(10)
        return work()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def login(gateway, email: str, password: str):  # type: ignore[no-untyped-def]
    return gateway.client.post("/api/v1/auth/token", data={"username": email, "password": password})


# ---------------------------------------------------------------- bounded hashing


async def test_a_full_hashing_pool_answers_503_with_retry_after_without_starting_a_hash(
    gateway_factory,
) -> None:
    hasher = GatedHasher()

    def customise(adapters: GatewayAdapters) -> None:
        adapters.password_hasher = hasher

    async with gateway_factory(
        customise=customise, password_hash_workers=1, password_hash_queue_size=0
    ) as gateway:
        await gateway.register("busy@example.com")
        hasher.gate.clear()
        hasher.entered.clear()
        calls_before = hasher.calls
        first = asyncio.create_task(login(gateway, "busy@example.com", gateway.PASSWORD))
        assert await asyncio.to_thread(hasher.entered.wait, 10)

        refused = await login(gateway, "busy@example.com", gateway.PASSWORD)

        assert refused.status_code == 503
        assert refused.json()["error_type"] == "password_hashing_busy"
        assert int(refused.headers["Retry-After"]) >= 1
        assert hasher.calls == calls_before + 1  # only the first login's hash
        hasher.gate.set()
        assert (await first).status_code == 200


async def test_hashes_wait_in_the_queue_while_it_has_room() -> None:
    hasher = GatedHasher()
    pool = BoundedPasswordHashing(hasher, workers=1, queue_size=1)
    hasher.gate.clear()
    running = asyncio.create_task(pool.hash("first-password"))
    waiting = asyncio.create_task(pool.hash("second-password"))
    await asyncio.sleep(0)  # both tasks run up to waiting for their hash
    assert pool.admitted == 2

    with pytest.raises(PasswordHashingBusyError):
        await pool.hash("third-password")

    hasher.gate.set()
    assert all((await running, await waiting))
    assert pool.admitted == 0
    assert await pool.hash("fourth-password")
    pool.close()


# ---------------------------------------------------------------- per-account backoff


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttled_gateway(gateway_factory, clock: Clock):  # type: ignore[no-untyped-def]
    backoff = Backoff(free_failures=3, initial_seconds=2, max_seconds=60)

    def customise(adapters: GatewayAdapters) -> None:
        adapters.login_throttle = InMemoryLoginThrottle(backoff, clock)

    return gateway_factory(customise=customise)


async def test_failed_logins_back_off_per_account_with_a_growing_retry_after(
    gateway_factory, clock: Clock
) -> None:
    async with throttled_gateway(gateway_factory, clock) as gateway:
        await gateway.register("victim@example.com")
        await gateway.register("bystander@example.com")
        for _ in range(2):
            assert (await login(gateway, "victim@example.com", "Wrong-Horse-1")).status_code == 401
        assert (await login(gateway, "victim@example.com", "Wrong-Horse-1")).status_code == 401

        blocked = await login(gateway, "victim@example.com", gateway.PASSWORD)
        assert blocked.status_code == 429
        assert blocked.headers["Retry-After"] == "2"

        clock.now += 2
        assert (await login(gateway, "victim@example.com", "Wrong-Horse-1")).status_code == 401
        longer = await login(gateway, "victim@example.com", gateway.PASSWORD)
        assert longer.status_code == 429
        assert longer.headers["Retry-After"] == "4"

        other = await login(gateway, "bystander@example.com", gateway.PASSWORD)
        assert other.status_code == 200


async def test_unknown_emails_back_off_like_known_ones(gateway_factory, clock: Clock) -> None:
    async with throttled_gateway(gateway_factory, clock) as gateway:
        for _ in range(3):
            assert (await login(gateway, "ghost@example.com", "Wrong-Horse-1")).status_code == 401
        assert (await login(gateway, "ghost@example.com", "Wrong-Horse-1")).status_code == 429


async def test_a_successful_login_forgets_the_failures(gateway_factory, clock: Clock) -> None:
    async with throttled_gateway(gateway_factory, clock) as gateway:
        await gateway.register("forgetful@example.com")
        for _ in range(2):
            await login(gateway, "forgetful@example.com", "Wrong-Horse-1")
        assert (await login(gateway, "forgetful@example.com", gateway.PASSWORD)).status_code == 200
        for _ in range(2):
            await login(gateway, "forgetful@example.com", "Wrong-Horse-1")
        assert (await login(gateway, "forgetful@example.com", gateway.PASSWORD)).status_code == 200


# ---------------------------------------------------------------- revocation


async def test_logout_makes_the_same_token_answer_401(gateway) -> None:
    await gateway.register("leaving@example.com")
    headers = gateway.bearer(await gateway.token("leaving@example.com"))
    assert (await gateway.client.get("/api/v1/users/me", headers=headers)).status_code == 200

    logout = await gateway.client.post("/api/v1/auth/logout", headers=headers)

    assert logout.status_code == 204
    after = await gateway.client.get("/api/v1/users/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["error_type"] == "unauthorized"
    assert after.headers["WWW-Authenticate"] == "Bearer"


async def test_logout_ends_only_that_token(gateway) -> None:
    await gateway.register("two-devices@example.com")
    phone = gateway.bearer(await gateway.token("two-devices@example.com"))
    laptop = gateway.bearer(await gateway.token("two-devices@example.com"))
    await gateway.client.post("/api/v1/auth/logout", headers=phone)
    assert (await gateway.client.get("/api/v1/users/me", headers=laptop)).status_code == 200


async def test_logout_needs_a_token(gateway) -> None:
    assert (await gateway.client.post("/api/v1/auth/logout")).status_code == 401


async def test_a_password_change_ends_older_tokens_and_answers_a_working_one(gateway) -> None:
    await gateway.register("changer@example.com")
    old = gateway.bearer(await gateway.token("changer@example.com"))
    other_device = gateway.bearer(await gateway.token("changer@example.com"))

    changed = await gateway.client.post(
        "/api/v1/auth/password",
        json={"current_password": gateway.PASSWORD, "new_password": NEW_PASSWORD},
        headers=old,
    )

    assert changed.status_code == 200, changed.text
    for headers in (old, other_device):
        assert (await gateway.client.get("/api/v1/users/me", headers=headers)).status_code == 401
    fresh = gateway.bearer(changed.json()["access_token"])
    assert (await gateway.client.get("/api/v1/users/me", headers=fresh)).status_code == 200
    assert (await login(gateway, "changer@example.com", gateway.PASSWORD)).status_code == 401
    assert (await login(gateway, "changer@example.com", NEW_PASSWORD)).status_code == 200


async def test_a_password_change_needs_the_current_password(gateway, user_headers) -> None:
    response = await gateway.client.post(
        "/api/v1/auth/password",
        json={"current_password": "Not-My-Password-1", "new_password": NEW_PASSWORD},
        headers=user_headers,
    )
    assert response.status_code == 403
    assert response.json()["error_type"] == "invalid_current_password"
    assert (await gateway.client.get("/api/v1/users/me", headers=user_headers)).status_code == 200


async def test_a_password_change_refuses_a_weak_password(gateway, user_headers) -> None:
    response = await gateway.client.post(
        "/api/v1/auth/password",
        json={"current_password": gateway.PASSWORD, "new_password": "short"},
        headers=user_headers,
    )
    assert response.status_code == 422
    assert response.json()["error_type"] == "weak_password"
    assert (await gateway.client.get("/api/v1/users/me", headers=user_headers)).status_code == 200


async def test_a_validly_signed_token_of_an_unknown_account_is_refused(gateway) -> None:
    real = jwt.decode(
        await gateway.token(gateway.ADMIN_EMAIL, gateway.ADMIN_PASSWORD),
        options={"verify_signature": False},
    )
    forged = jwt.encode(
        {**real, "sub": str(uuid.uuid4())},
        gateway.settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    response = await gateway.client.get("/api/v1/venues", headers=gateway.bearer(forged))
    assert response.status_code == 401


# ---------------------------------------------------------------- roles take effect at once


async def test_a_demoted_managers_next_catalog_write_answers_403(gateway, admin_headers) -> None:
    manager_id, manager = await gateway.user_with_id("manager")
    created = await gateway.client.post("/api/v1/venues", json=VENUE, headers=manager)
    assert created.status_code == 201

    demoted = await gateway.client.put(
        f"/api/v1/users/{manager_id}/role", json={"role": "user"}, headers=admin_headers
    )

    assert demoted.status_code == 200
    refused = await gateway.client.post("/api/v1/venues", json=VENUE, headers=manager)
    assert refused.status_code == 403


async def test_a_promoted_user_writes_with_the_token_they_already_hold(
    gateway, admin_headers
) -> None:
    user_id, user = await gateway.user_with_id("user")
    assert (
        await gateway.client.post("/api/v1/venues", json=VENUE, headers=user)
    ).status_code == 403
    await gateway.client.put(
        f"/api/v1/users/{user_id}/role", json={"role": "manager"}, headers=admin_headers
    )
    assert (
        await gateway.client.post("/api/v1/venues", json=VENUE, headers=user)
    ).status_code == 201


# ---------------------------------------------------------------- audit


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter("gateway")
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "audit"]


async def test_writes_an_audit_line_for_each_security_event(
    gateway_factory, caplog: pytest.LogCaptureFixture
) -> None:
    async with gateway_factory() as gateway:
        admin = gateway.bearer(await gateway.token(gateway.ADMIN_EMAIL, gateway.ADMIN_PASSWORD))
        user = await gateway.register("audited@example.com")
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="audit"):
            assert (await login(gateway, "audited@example.com", "Wrong-Horse-1")).status_code == 401
            token = gateway.bearer(await gateway.token("audited@example.com"))
            changed = await gateway.client.post(
                "/api/v1/auth/password",
                json={"current_password": gateway.PASSWORD, "new_password": NEW_PASSWORD},
                headers=token,
            )
            fresh = gateway.bearer(changed.json()["access_token"])
            await gateway.client.put(
                f"/api/v1/users/{user['id']}/role", json={"role": "manager"}, headers=admin
            )
            assert (
                await gateway.client.post("/api/v1/auth/logout", headers=fresh)
            ).status_code == 204

    lines = audit_lines(caplog)
    assert [line["event_type"] for line in lines] == [
        "login_failed",
        "login_succeeded",
        "password_changed",
        "role_changed",
        "logout",
    ]
    assert all(line["logger"] == "audit" and line["service"] == "gateway" for line in lines)
    assert lines[0]["email"] == "audited@example.com"
    assert {line.get("user_id") for line in lines} == {user["id"]}
    role_change = lines[3]
    assert (role_change["previous_role"], role_change["role"]) == ("user", "manager")
    text = caplog.text + json.dumps(lines)
    for secret in ("Wrong-Horse-1", gateway.PASSWORD, NEW_PASSWORD):
        assert secret not in text
