"""Where a test session's PostgreSQL and Redis come from: the TEST_* URLs as they are, else
servers already answering at the defaults, else servers of the session's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_infra import session_infrastructure
from local_infra.ports import free_port
from local_infra.postgres import can_connect
from local_infra.redis_server import can_ping
from local_infra.session_infrastructure import (
    KAFKA_ENV,
    POSTGRES_ENV,
    REDIS_ENV,
    Infrastructure,
    provide_infrastructure,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def session_settings(
    monkeypatch: pytest.MonkeyPatch, infrastructure: Infrastructure
) -> pytest.MonkeyPatch:
    """No TEST_* PostgreSQL or Redis URL and no Docker; this session's broker."""
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    monkeypatch.delenv(REDIS_ENV, raising=False)
    monkeypatch.setenv(KAFKA_ENV, infrastructure.kafka_bootstrap_servers)
    monkeypatch.setattr(session_infrastructure, "docker_engine_reachable", lambda: False)
    return monkeypatch


def _nothing_answers_at_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        session_infrastructure,
        "DEFAULT_POSTGRES_ADMIN_URL",
        f"postgresql://postgres@127.0.0.1:{free_port()}/postgres",
    )
    monkeypatch.setattr(
        session_infrastructure, "DEFAULT_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0"
    )


async def test_urls_from_the_environment_are_used_as_they_are(
    session_settings: pytest.MonkeyPatch, infrastructure: Infrastructure, tmp_path: Path
) -> None:
    _nothing_answers_at_the_defaults(session_settings)
    session_settings.setenv(POSTGRES_ENV, infrastructure.postgres_admin_url)
    session_settings.setenv(REDIS_ENV, infrastructure.redis_url)

    async with provide_infrastructure(tmp_path, announce=print) as provided:
        assert provided.postgres_admin_url == infrastructure.postgres_admin_url
        assert provided.redis_url == infrastructure.redis_url
        assert provided.sources["postgres"] == provided.sources["redis"] == "environment"


async def test_servers_answering_at_the_defaults_are_used_as_they_are(
    session_settings: pytest.MonkeyPatch, infrastructure: Infrastructure, tmp_path: Path
) -> None:
    session_settings.setattr(
        session_infrastructure, "DEFAULT_POSTGRES_ADMIN_URL", infrastructure.postgres_admin_url
    )
    session_settings.setattr(session_infrastructure, "DEFAULT_REDIS_URL", infrastructure.redis_url)

    async with provide_infrastructure(tmp_path, announce=print) as provided:
        assert provided.postgres_admin_url == infrastructure.postgres_admin_url
        assert provided.redis_url == infrastructure.redis_url
        assert provided.sources["postgres"] == provided.sources["redis"] == "local"


async def test_where_nothing_answers_the_session_runs_its_own_servers_and_stops_them_after(
    session_settings: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _nothing_answers_at_the_defaults(session_settings)

    async with provide_infrastructure(tmp_path, announce=print) as provided:
        assert provided.sources["postgres"] == provided.sources["redis"] == "session"
        assert await can_connect(provided.postgres_admin_url)
        assert await can_ping(provided.redis_url)

    assert not await can_connect(provided.postgres_admin_url, connect_seconds=1)
    assert not await can_ping(provided.redis_url, connect_seconds=1)
