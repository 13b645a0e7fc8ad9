"""The user store and the initial admin on a real PostgreSQL database."""

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from limits import parse

from gateway.adapters.login_throttle import Backoff, InMemoryLoginThrottle
from gateway.adapters.passwords import Argon2PasswordHasher, BoundedPasswordHashing
from gateway.adapters.rate_limits import InMemoryWindowCounters, RateLimitedFailures, RateLimiter
from gateway.adapters.revoked_tokens import InMemoryRevokedTokens
from gateway.adapters.tokens import JwtTokens
from gateway.adapters.user_store import PostgresUserRepository
from gateway.application.auth import AuthService
from gateway.domain.users import User
from service_kit.errors import ConflictError, UnauthorizedError

pytestmark = pytest.mark.integration

SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"


@pytest_asyncio.fixture
async def users(database_factory) -> AsyncIterator[PostgresUserRepository]:
    repository = PostgresUserRepository(await database_factory("gateway"), pool_size=2)
    await repository.open()
    yield repository
    await repository.close()


def auth_service(users: PostgresUserRepository, memory_kib: int = 1024) -> AuthService:
    tokens = JwtTokens(
        algorithm="HS256",
        signing_key=SECRET,
        verification_key=SECRET,
        ttl_seconds=60,
        leeway_seconds=0,
        issuer="ticketing-gateway",
    )
    failures = RateLimiter(InMemoryWindowCounters(), {"failures": parse("100/hour")})
    return AuthService(
        users,
        BoundedPasswordHashing(
            Argon2PasswordHasher(time_cost=1, memory_kib=memory_kib), workers=1, queue_size=4
        ),
        tokens,
        InMemoryLoginThrottle(Backoff(5, 2, 300)),
        InMemoryRevokedTokens(),
        failed_logins_per_address=RateLimitedFailures(failures, "failures"),
        taken_emails_per_address=RateLimitedFailures(failures, "failures"),
    )


def email() -> str:
    return f"pg-{uuid.uuid4().hex[:10]}@example.com"


async def test_stores_and_finds_users(users: PostgresUserRepository) -> None:
    user = User.new(email=email(), name="Zoë", role="user", password_hash="h")
    await users.add(user)
    assert await users.by_email(user.email) == user
    assert await users.by_id(user.id) == user
    assert await users.by_email("nobody@example.com") is None


async def test_an_email_with_a_nul_byte_is_an_unknown_user(
    users: PostgresUserRepository,
) -> None:
    # A login form can carry one; PostgreSQL text cannot, so no account has it.
    assert await users.by_email("fan\x00@example.com") is None


async def test_refuses_a_duplicate_email(users: PostgresUserRepository) -> None:
    address = email()
    await users.add(User.new(email=address, name="A", role="user", password_hash="h"))
    with pytest.raises(ConflictError):
        await users.add(User.new(email=address, name="B", role="user", password_hash="h"))


async def test_changes_role_and_password_hash(users: PostgresUserRepository) -> None:
    user = User.new(email=email(), name="A", role="user", password_hash="old")
    await users.add(user)
    promoted = await users.set_role(user.id, "manager")
    assert promoted is not None
    assert promoted.role == "manager"
    await users.set_password_hash(user.id, "new")
    stored = await users.by_id(user.id)
    assert stored is not None
    assert stored.password_hash == "new"
    assert await users.set_role(uuid.uuid4(), "admin") is None


async def test_opening_twice_keeps_the_schema_and_data(users: PostgresUserRepository) -> None:
    user = User.new(email=email(), name="A", role="user", password_hash="h")
    await users.add(user)
    await users.open()
    assert await users.by_id(user.id) == user


async def test_registers_and_logs_in(users: PostgresUserRepository) -> None:
    auth = auth_service(users)
    address = email()
    await auth.register(email=address.upper(), password="Sturdy-Horse-42", name="Zoë")
    token = await auth.issue_token(email=address, password="Sturdy-Horse-42")
    assert token.access_token
    with pytest.raises(UnauthorizedError):
        await auth.issue_token(email=address, password="Wrong-Horse-42")


async def test_the_initial_admin_is_created_once_and_follows_the_configured_password(
    users: PostgresUserRepository,
) -> None:
    auth = auth_service(users)
    address = email()
    first = await auth.ensure_admin(email=address, password="First-Admin-Pass-1")
    again = await auth.ensure_admin(email=address, password="Second-Admin-Pass-2")
    assert first.id == again.id
    assert again.role == "admin"
    await auth.authenticate(email=address, password="Second-Admin-Pass-2")
    with pytest.raises(UnauthorizedError):
        await auth.authenticate(email=address, password="First-Admin-Pass-1")


async def test_a_login_rehashes_a_password_stored_with_other_parameters(
    users: PostgresUserRepository,
) -> None:
    address = email()
    await auth_service(users, memory_kib=2048).register(
        email=address, password="Sturdy-Horse-42", name="Zoë"
    )
    stored = await users.by_email(address)
    assert stored is not None
    assert "m=2048" in stored.password_hash

    await auth_service(users, memory_kib=1024).authenticate(
        email=address, password="Sturdy-Horse-42"
    )

    rehashed = await users.by_email(address)
    assert rehashed is not None
    assert "m=1024" in rehashed.password_hash
    assert rehashed.token_version == stored.token_version
