"""entry's use cases and routes on a real PostgreSQL database of their own per test; facts
are handed to the consumer's use case directly (test_kafka_consumer.py uses the broker)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest_asyncio

from entry.adapters.postgres_facts import PostgresFacts
from entry.adapters.postgres_schema import ensure_schema
from entry.adapters.ticket_keys import TicketKeys
from entry.application.apply_facts import AppliedBatch, ApplyFacts
from entry.bootstrap import build_app, serve_use_cases
from entry.settings import EntrySettings
from service_kit.internal_auth import Caller, InternalRole, InternalTokenIssuer, generate_key_pair
from ticketing_contracts.envelope import EventEnvelope

GATEWAY_PRIVATE_KEY, GATEWAY_PUBLIC_KEY = generate_key_pair()
GATEWAY_TOKENS = InternalTokenIssuer.from_text(GATEWAY_PRIVATE_KEY)
NOTIFICATIONS_PRIVATE_KEY, NOTIFICATIONS_PUBLIC_KEY = generate_key_pair()
INVENTORY_PRIVATE_KEY, INVENTORY_PUBLIC_KEY = generate_key_pair()


def as_person(user_id: str, role: InternalRole = "user") -> dict[str, str]:
    """The header the gateway sends for a signed-in person."""
    return {"Authorization": GATEWAY_TOKENS.authorization("entry", Caller(user_id, role))}


def as_service(name: str, private_key: str) -> dict[str, str]:
    """A service calling entry for itself, with its own key."""
    issuer = InternalTokenIssuer.from_text(private_key, issuer=name)
    return {"Authorization": issuer.service_authorization("entry")}


# Functions, not constants: a credential lives a minute, and a module is imported when the
# whole suite is collected, long before its tests run.
def as_admin() -> dict[str, str]:
    return as_person("admin-1", "admin")


def as_manager() -> dict[str, str]:
    return as_person("manager-1", "manager")


def make_settings(infrastructure: Any, database_url: str, topic_prefix: str) -> EntrySettings:
    return EntrySettings(
        _env_file=None,
        environment="test",
        internal_token_public_key=GATEWAY_PUBLIC_KEY,
        trusted_service_keys=(
            f"notifications={NOTIFICATIONS_PUBLIC_KEY},inventory={INVENTORY_PUBLIC_KEY}"
        ),
        ticket_signing_secret=secrets.token_urlsafe(48),
        database_url=database_url,
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_topic_prefix=f"{topic_prefix}{secrets.token_hex(3)}.",
        topic_partitions=3,
    )


class Entry:
    """The service on its own database: facts go in through the consumer's use case,
    people and services come in through the routes."""

    def __init__(self, settings: EntrySettings, pool: asyncpg.Pool, log: Any) -> None:
        self.settings = settings
        self.pool = pool
        self.keys = TicketKeys(settings.ticket_signing_secret.get_secret_value().encode())
        self.apply_facts = ApplyFacts(PostgresFacts(pool))
        self.log = log
        self.app = build_app(settings)
        serve_use_cases(self.app, pool, self.keys, settings)

    async def publish(self, *envelopes: EventEnvelope) -> list[AppliedBatch]:
        return [await self.apply_facts(batch) for batch in self.log.batches(envelopes)]

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        """A caller of the internal API (an admin unless `headers` say otherwise)."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://entry",
            headers=as_admin() if headers is None else headers,
        )


@pytest_asyncio.fixture(loop_scope="session")
async def entry(
    infrastructure: Any, database_factory: Any, topic_prefix: str, log_factory: Any
) -> AsyncIterator[Entry]:
    database_url = await database_factory(f"entry_{secrets.token_hex(4)}")
    settings = make_settings(infrastructure, database_url, topic_prefix)
    pool = await asyncpg.create_pool(settings.database_dsn, min_size=1, max_size=25)
    await ensure_schema(pool)
    try:
        yield Entry(settings, pool, log_factory(settings.kafka_topic_prefix))
    finally:
        await pool.close()
