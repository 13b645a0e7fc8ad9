from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from local_infra.stack_state import StackInfo


@pytest_asyncio.fixture(loop_scope="session")
async def client(running_stack: StackInfo) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=running_stack.gateway_url, timeout=30) as client:
        yield client
