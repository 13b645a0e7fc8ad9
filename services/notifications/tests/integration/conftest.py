from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from .support import FakeEntry, Publisher, RunningCatcher


@pytest.fixture(scope="module")
def catcher_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCatcher]:
    catcher = RunningCatcher(tmp_path_factory.mktemp("mail-catcher"))
    yield catcher
    catcher.stop()


@pytest_asyncio.fixture
async def catcher(catcher_process: RunningCatcher) -> RunningCatcher:
    if not catcher_process.pid:
        await catcher_process.start()
    return catcher_process


@pytest_asyncio.fixture
async def entry() -> AsyncIterator[FakeEntry]:
    fake = FakeEntry()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture
async def publisher(infrastructure) -> AsyncIterator[Publisher]:
    publisher = Publisher(infrastructure.kafka_bootstrap_servers)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.stop()


@pytest_asyncio.fixture
async def database_url(database_factory) -> str:
    url: str = await database_factory(f"notifications_{secrets.token_hex(4)}")
    return url
