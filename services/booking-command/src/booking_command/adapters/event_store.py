"""The event store's configuration, from settings to eventsourcing's environment."""

from __future__ import annotations

from booking_command.adapters.recorders import InMemoryEventStoreFactory, PostgresEventStoreFactory
from booking_command.settings import BookingCommandSettings


def _topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def postgres_environment(settings: BookingCommandSettings) -> dict[str, str]:
    host = settings.database_url.hosts()[0]
    database = (settings.database_url.path or "/").lstrip("/")
    return {
        "PERSISTENCE_MODULE": _topic(PostgresEventStoreFactory),
        "POSTGRES_DBNAME": database,
        "POSTGRES_HOST": host.get("host") or "127.0.0.1",
        "POSTGRES_PORT": str(host.get("port") or 5432),
        "POSTGRES_USER": host.get("username") or "postgres",
        "POSTGRES_PASSWORD": host.get("password") or "",
        "POSTGRES_POOL_SIZE": str(settings.database_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.event_store_pool_overflow),
        "POSTGRES_CONNECT_TIMEOUT": "5",
        # A check per borrowed connection was a fifth of the event store's time; a dead
        # connection fails its statement instead, which eventsourcing retries on a new one.
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_LOCK_TIMEOUT": "5",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        "CREATE_TABLE": "y",
    }


def in_memory_environment() -> dict[str, str]:
    return {"PERSISTENCE_MODULE": _topic(InMemoryEventStoreFactory)}
