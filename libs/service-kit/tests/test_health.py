import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import httpx
import pytest
from redis.asyncio import Redis

from local_infra.tcp_proxy import TcpProxy
from service_kit.dependency_probes import redis_probe
from service_kit.health import HealthRegistry

from .conftest import build_demo_app


async def _failing_probe() -> None:
    raise ConnectionRefusedError("connection refused")


async def _passing_probe() -> None:
    return None


async def _hanging_probe() -> None:
    await asyncio.sleep(60)


def _client(health: HealthRegistry) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_demo_app(health))
    return httpx.AsyncClient(transport=transport, base_url="http://demo")


def _registry(timeout: float = 2.0) -> HealthRegistry:
    return HealthRegistry(
        service="demo", version="1.2.3", environment="test", timeout_seconds=timeout
    )


async def test_liveness_answers_without_checking_dependencies() -> None:
    health = _registry()
    health.add("postgres", _failing_probe)
    async with _client(health) as client:
        response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


async def test_readiness_is_503_and_names_the_failing_dependency() -> None:
    health = _registry()
    health.add("postgres", _passing_probe)
    health.add("kafka", _failing_probe)
    async with _client(health) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["postgres"]["status"] == "up"
    assert body["checks"]["kafka"]["status"] == "down"
    assert body["checks"]["kafka"]["error"] == "ConnectionRefusedError"


async def test_a_hanging_dependency_times_out_instead_of_hanging_the_probe() -> None:
    health = _registry(timeout=0.2)
    health.add("redis", _hanging_probe)
    async with _client(health) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert "no answer within 0.2s" in response.json()["checks"]["redis"]["error"]


async def test_an_optional_dependency_down_keeps_readiness_but_degrades_the_summary() -> None:
    health = _registry()
    health.add("redis", _passing_probe)
    health.add("inventory", _failing_probe, required=False)
    async with _client(health) as client:
        ready = await client.get("/health/ready")
        summary = await client.get("/health")
    assert ready.status_code == 200
    assert summary.status_code == 200
    assert summary.json()["status"] == "degraded"
    assert summary.json()["version"] == "1.2.3"
    assert summary.json()["checks"]["inventory"]["status"] == "down"
    assert "timestamp" in summary.json()


@pytest.fixture
async def redis_behind_proxy(infrastructure) -> AsyncIterator[tuple[TcpProxy, Redis]]:  # type: ignore[no-untyped-def]
    target = urlparse(infrastructure.redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    client = Redis(host="127.0.0.1", port=proxy.port, socket_connect_timeout=1, socket_timeout=1)
    yield proxy, client
    await client.aclose()
    await proxy.cut()


@pytest.mark.integration
async def test_readiness_follows_a_real_redis_going_away_and_coming_back(
    redis_behind_proxy: tuple[TcpProxy, Redis],
) -> None:
    proxy, redis = redis_behind_proxy
    health = _registry()
    health.add("redis", redis_probe(redis))
    async with _client(health) as client:
        assert (await client.get("/health/ready")).status_code == 200

        await proxy.cut()
        unreachable = await client.get("/health/ready")
        assert unreachable.status_code == 503
        assert unreachable.json()["checks"]["redis"]["status"] == "down"

        await proxy.restore()
        back = await client.get("/health/ready")
        assert back.status_code == 200
        assert back.json()["checks"]["redis"]["status"] == "up"


async def test_a_probe_error_names_no_host_or_address() -> None:
    async def unreachable() -> None:
        raise OSError("Connect call failed ('10.3.7.21', 5432) to postgres.internal.svc")

    health = _registry()
    health.add("postgres", unreachable)
    async with _client(health) as client:
        for path in ("/health/ready", "/health"):
            error = (await client.get(path)).json()["checks"]["postgres"]["error"]
            assert error == "OSError"


async def test_repeated_readiness_within_the_cache_window_probes_each_dependency_once() -> None:
    calls = {"postgres": 0, "kafka": 0}

    def counting(name: str):
        async def probe() -> None:
            calls[name] += 1

        return probe

    health = HealthRegistry(service="demo", version="1", environment="test", cache_seconds=60)
    health.add("postgres", counting("postgres"))
    health.add("kafka", counting("kafka"))
    async with _client(health) as client:
        answers = await asyncio.gather(*(client.get("/health/ready") for _ in range(5)))
        answers.append(await client.get("/health"))
    assert [answer.status_code for answer in answers] == [200] * 6
    assert calls == {"postgres": 1, "kafka": 1}


async def test_readiness_probes_again_once_the_cache_window_has_passed() -> None:
    calls = 0

    async def probe() -> None:
        nonlocal calls
        calls += 1

    health = HealthRegistry(service="demo", version="1", environment="test", cache_seconds=0)
    health.add("postgres", probe)
    async with _client(health) as client:
        await client.get("/health/ready")
        await client.get("/health/ready")
    assert calls == 2


def test_uvicorn_gets_the_concurrency_limit(monkeypatch) -> None:
    import uvicorn
    from fastapi import FastAPI

    from service_kit.server import serve
    from service_kit.settings import ServiceSettings

    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "__init__", lambda self, config: configs.append(config))
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)
    serve(FastAPI(), ServiceSettings(http_limit_concurrency=321))
    assert configs[0].limit_concurrency == 321
