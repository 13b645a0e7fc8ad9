"""Login backoff, logout, password changes and fresh roles on real PostgreSQL and Redis."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from gateway.adapters.login_throttle import Backoff, RedisLoginThrottle
from gateway.adapters.revoked_tokens import PostgresRevokedTokens
from gateway.adapters.user_store import PostgresUserRepository
from gateway.application.revocations import RevocationList
from gateway.bootstrap import build_app, production_adapters
from gateway.domain.users import User
from gateway.settings import GatewaySettings
from service_kit.internal_auth import generate_key_pair

pytestmark = pytest.mark.integration

SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"
PASSWORD = "Sturdy-Horse-42"
ADMIN = {"username": "owner@example.com", "password": "Owner-Pass-2024!"}


@pytest_asyncio.fixture
async def redis(infrastructure) -> AsyncIterator[Redis]:
    client = Redis.from_url(infrastructure.redis_url)
    yield client
    await client.aclose()


async def test_failures_back_off_per_account_in_redis_and_a_success_resets_them(
    redis: Redis, redis_key_prefix: str
) -> None:
    throttle = RedisLoginThrottle(redis, redis_key_prefix, Backoff(3, 2, 5))
    victim, bystander = f"{uuid.uuid4().hex}@example.com", f"{uuid.uuid4().hex}@example.com"

    delays = [await throttle.record_failure(victim) for _ in range(6)]

    assert delays == [0, 0, 2, 4, 5, 5]
    assert 4 <= await throttle.retry_after(victim) <= 5
    assert await throttle.retry_after(bystander) == 0
    other = RedisLoginThrottle(redis, redis_key_prefix, Backoff(3, 2, 5))  # another replica
    assert await other.retry_after(victim) >= 4
    await throttle.reset(victim)
    assert await other.retry_after(victim) == 0
    assert await throttle.record_failure(victim) == 0


async def test_a_logout_is_kept_in_postgres_seen_by_every_replica_and_forgotten_at_expiry(
    database_factory,
) -> None:
    users = PostgresUserRepository(await database_factory("gateway_revoked"), pool_size=2)
    await users.open()

    def replica() -> RevocationList:
        return RevocationList(
            PostgresRevokedTokens(users),
            leeway_seconds=1,
            refresh_seconds=0.05,
            max_stale_seconds=30,
        )

    this, other = replica(), replica()
    await this.start()
    await other.start()
    try:
        logged_out, expiring, untouched = (uuid.uuid4().hex for _ in range(3))
        await this.revoke(logged_out, int(time.time()) + 600)
        await this.revoke(expiring, int(time.time()))  # forgotten a second (leeway) later
        assert await this.is_revoked(logged_out)
        await until(lambda: other.is_revoked(logged_out))
        assert not await other.is_revoked(untouched)

        restarted = replica()  # a gateway started afterwards reads every logout
        await restarted.start()
        assert await restarted.is_revoked(logged_out)
        await restarted.stop()

        async def forgotten() -> bool:
            stored = await users.pool.fetchval(
                "SELECT count(*) FROM gateway_revoked_tokens WHERE token_id = $1", expiring
            )
            return stored == 0 and not await other.is_revoked(expiring)

        await until(forgotten)
        assert await this.is_revoked(logged_out)
    finally:
        await this.stop()
        await other.stop()
        await users.close()


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.02)


async def test_a_new_password_raises_the_token_version_and_old_tables_gain_the_column(
    database_factory,
) -> None:
    dsn = await database_factory("gateway_versions")
    connection = await asyncpg.connect(dsn)
    await connection.execute(
        "CREATE TABLE gateway_users (id uuid PRIMARY KEY, email text NOT NULL UNIQUE, "
        "name text NOT NULL, role text NOT NULL, password_hash text NOT NULL, "
        "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
    )
    await connection.close()
    users = PostgresUserRepository(dsn, pool_size=2)
    await users.open()
    try:
        user = User.new(email="versions@example.com", name="V", role="user", password_hash="a")
        await users.add(user)
        assert (await users.by_id(user.id)).token_version == 0  # type: ignore[union-attr]
        changed = await users.replace_password(user.id, "b")
        assert changed is not None
        assert (changed.password_hash, changed.token_version) == ("b", 1)
        await users.set_password_hash(user.id, "c")  # a rehash keeps the tokens
        assert (await users.by_id(user.id)).token_version == 1  # type: ignore[union-attr]
        assert await users.replace_password(uuid.uuid4(), "x") is None
    finally:
        await users.close()


async def gateway_settings(  # type: ignore[no-untyped-def]
    infrastructure, database_factory, redis_key_prefix
) -> GatewaySettings:
    return GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        jwt_secret=SECRET,
        database_url=await database_factory("gateway_accounts"),
        redis_url=infrastructure.redis_url,
        redis_key_prefix=f"{redis_key_prefix}accounts:",
        admin_email=ADMIN["username"],
        admin_password=ADMIN["password"],
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        login_failures_before_backoff=2,
        login_backoff_initial_seconds=1,
        booking_command_url="http://booking-command.test",
        query_projection_url="http://query-projection.test",
        inventory_url="http://inventory.test",
        internal_token_private_key=generate_key_pair()[0],
    )


async def test_accounts_on_real_stores(infrastructure, database_factory, redis_key_prefix) -> None:
    settings = await gateway_settings(infrastructure, database_factory, redis_key_prefix)
    adapters = production_adapters(settings)
    adapters.transport = httpx.MockTransport(lambda _: httpx.Response(503))
    app = build_app(settings, adapters)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

            async def token(email: str, password: str = PASSWORD) -> dict[str, str]:
                answer = await client.post(
                    "/api/v1/auth/token", data={"username": email, "password": password}
                )
                assert answer.status_code == 200, answer.text
                return {"Authorization": f"Bearer {answer.json()['access_token']}"}

            async def me(headers: dict[str, str]) -> int:
                return (await client.get("/api/v1/users/me", headers=headers)).status_code

            ids = {}
            for email in ("zoe@example.com", "max@example.com"):
                registered = await client.post(
                    "/api/v1/auth/register",
                    json={"email": email, "password": PASSWORD, "name": "Z"},
                )
                assert registered.status_code == 201
                ids[email] = registered.json()["id"]
            admin = await token(ADMIN["username"], ADMIN["password"])

            # Logout: the same token answers 401 at once.
            zoe = await token("zoe@example.com")
            assert (await client.post("/api/v1/auth/logout", headers=zoe)).status_code == 204
            assert await me(zoe) == 401

            # A password change ends every earlier token.
            before = await token("zoe@example.com")
            changed = await client.post(
                "/api/v1/auth/password",
                json={"current_password": PASSWORD, "new_password": "Fresh-Horse-43"},
                headers=before,
            )
            assert changed.status_code == 200
            assert await me(before) == 401
            assert await me({"Authorization": f"Bearer {changed.json()['access_token']}"}) == 200

            # A demoted admin's next admin-only request answers 403, with the same token.
            max_ = await token("max@example.com")
            zoe_role = f"/api/v1/users/{ids['zoe@example.com']}/role"
            max_role = f"/api/v1/users/{ids['max@example.com']}/role"
            assert (await client.put(max_role, json={"role": "admin"}, headers=admin)).is_success
            assert (await client.put(zoe_role, json={"role": "manager"}, headers=max_)).is_success
            assert (await client.put(max_role, json={"role": "user"}, headers=admin)).is_success
            refused = await client.put(zoe_role, json={"role": "admin"}, headers=max_)
            assert refused.status_code == 403

            # Failed logins back off per account, each block longer; others log in.
            wrong = {"username": "max@example.com", "password": "Wrong-Horse-1"}
            waits = []
            for _ in range(2):
                answer = await client.post("/api/v1/auth/token", data=wrong)
                while answer.status_code == 401:
                    answer = await client.post("/api/v1/auth/token", data=wrong)
                assert answer.status_code == 429
                waits.append(int(answer.headers["Retry-After"]))
                await asyncio.sleep(waits[-1])  # the wait the gateway asked for
            assert waits == [1, 2]
            assert await me(await token("zoe@example.com", "Fresh-Horse-43")) == 200
