from __future__ import annotations

from local_infra.services import (
    BOOKING_COMMAND,
    GATEWAY,
    INVENTORY,
    PAYMENT_SIMULATOR,
    QUERY_PROJECTION,
    WEB,
    SharedSettings,
    service_environment,
)


def shared(extra_env: dict[str, str] | None = None) -> SharedSettings:
    return SharedSettings(
        environment="test",
        log_level="INFO",
        host="127.0.0.1",
        redis_url="redis://127.0.0.1:6379/0",
        redis_key_prefix="",
        kafka_bootstrap_servers="127.0.0.1:9092",
        kafka_topic_prefix="",
        service_urls={
            name: f"http://127.0.0.1:{port}"
            for name, port in (
                (GATEWAY, 8000),
                (BOOKING_COMMAND, 8001),
                (INVENTORY, 8002),
                (QUERY_PROJECTION, 8003),
                (PAYMENT_SIMULATOR, 8010),
            )
        },
        payment_provider_secret_key="k" * 32,
        extra_env=extra_env or {},
    )


def test_the_gateway_trusts_forwarded_addresses_from_web_on_this_host_only() -> None:
    gateway = service_environment(
        shared(), port=8000, database_url=None, base_env={}, service=GATEWAY
    )
    assert gateway["FORWARDED_ALLOW_IPS"] == "127.0.0.1"
    for other in (WEB, INVENTORY):
        env = service_environment(
            shared(), port=8080, database_url=None, base_env={}, service=other
        )
        assert "FORWARDED_ALLOW_IPS" not in env, other


def test_a_forwarded_allow_ips_the_stack_is_given_wins() -> None:
    settings = shared({"FORWARDED_ALLOW_IPS": "10.1.2.3"})
    env = service_environment(settings, port=8000, database_url=None, base_env={}, service=GATEWAY)
    assert env["FORWARDED_ALLOW_IPS"] == "10.1.2.3"
