from __future__ import annotations

from pathlib import Path

from local_infra.secrets_env import (
    load_or_create_env_file,
    missing_service_token_keys,
    read_env_file,
)
from local_infra.services import (
    BOOKING_COMMAND,
    ENTRY,
    GATEWAY,
    INVENTORY,
    MAIL_CATCHER,
    NOTIFICATIONS,
    PAYMENT_SIMULATOR,
    QUERY_PROJECTION,
    WEB,
    SharedSettings,
    service_environment,
)
from service_kit.internal_auth import public_key_text_of, service_key_names


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
                (ENTRY, 8004),
                (NOTIFICATIONS, 8005),
                (PAYMENT_SIMULATOR, 8010),
                (MAIL_CATCHER, 8025),
                (WEB, 8080),
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


def test_each_service_gets_its_own_key_and_the_public_keys_of_its_callers() -> None:
    keys = missing_service_token_keys({})
    settings = shared({**keys, "INTERNAL_TOKEN_PUBLIC_KEY": "gateway-public"})
    base_env = {"QUERY_PROJECTION_SERVICE_TOKEN_PRIVATE_KEY": "a stray one"}

    def env_of(service: str) -> dict[str, str]:
        return service_environment(
            settings, port=8000, database_url=None, base_env=base_env, service=service
        )

    for service in (GATEWAY, BOOKING_COMMAND, INVENTORY, QUERY_PROJECTION, ENTRY, WEB):
        env = env_of(service)
        assert not [name for name in env if name.endswith("_SERVICE_TOKEN_PRIVATE_KEY")], (
            f"{service} must not get another service's private key"
        )
    booking_command, inventory = env_of(BOOKING_COMMAND), env_of(INVENTORY)
    assert (
        booking_command["SERVICE_TOKEN_PRIVATE_KEY"]
        == keys["BOOKING_COMMAND_SERVICE_TOKEN_PRIVATE_KEY"]
    )
    assert inventory["SERVICE_TOKEN_PRIVATE_KEY"] == keys["INVENTORY_SERVICE_TOKEN_PRIVATE_KEY"]
    assert booking_command["TRUSTED_SERVICE_KEYS"] == (
        f"inventory={keys['INVENTORY_SERVICE_TOKEN_PUBLIC_KEY']}"
    )
    assert inventory["TRUSTED_SERVICE_KEYS"] == (
        f"booking-command={keys['BOOKING_COMMAND_SERVICE_TOKEN_PUBLIC_KEY']}"
    )
    gateway = env_of(GATEWAY)
    assert (gateway["SERVICE_TOKEN_PRIVATE_KEY"], gateway["TRUSTED_SERVICE_KEYS"]) == ("", "")
    # booking-command's reconciliation after a restore reads the read models.
    assert env_of(QUERY_PROJECTION)["TRUSTED_SERVICE_KEYS"] == (
        f"booking-command={keys['BOOKING_COMMAND_SERVICE_TOKEN_PUBLIC_KEY']}"
    )


def test_the_services_own_keys_are_written_into_a_new_env_file_and_added_to_an_old_one(
    tmp_path: Path,
) -> None:
    created = load_or_create_env_file(tmp_path / "new.env")
    names = [
        name for service in (BOOKING_COMMAND, INVENTORY) for name in service_key_names(service)
    ]
    assert set(names) <= set(read_env_file(created.path))

    old = tmp_path / "old.env"
    old.write_text(
        "INTERNAL_TOKEN_PRIVATE_KEY=kept\nPAYMENT_PROVIDER_SECRET_KEY=kept\n"
        "INVENTORY_SERVICE_TOKEN_PRIVATE_KEY=kept\n"
    )
    loaded = load_or_create_env_file(old)
    on_disk = read_env_file(old)
    assert loaded.values == on_disk
    assert on_disk["INVENTORY_SERVICE_TOKEN_PRIVATE_KEY"] == "kept"
    private, public = service_key_names(BOOKING_COMMAND)
    assert public_key_text_of(on_disk[private]) == on_disk[public]
    assert load_or_create_env_file(old).values == on_disk, "added once"


def test_every_service_is_told_where_entry_is() -> None:
    for service in (GATEWAY, ENTRY, WEB):
        env = service_environment(
            shared(), port=8004, database_url=None, base_env={}, service=service
        )
        assert env["ENTRY_URL"] == "http://127.0.0.1:8004", service


def test_a_new_env_file_has_a_ticket_signing_secret_and_an_old_one_gets_one_once(
    tmp_path: Path,
) -> None:
    created = load_or_create_env_file(tmp_path / "new.env")
    assert len(created.values["TICKET_SIGNING_SECRET"].encode()) >= 32

    old = tmp_path / "old.env"
    old.write_text("INTERNAL_TOKEN_PRIVATE_KEY=kept\nPAYMENT_PROVIDER_SECRET_KEY=kept\n")
    added = load_or_create_env_file(old).values["TICKET_SIGNING_SECRET"]
    assert len(added.encode()) >= 32
    assert load_or_create_env_file(old).values["TICKET_SIGNING_SECRET"] == added, "kept"


def test_entry_trusts_the_notifications_service_which_signs_with_its_own_key() -> None:
    keys = missing_service_token_keys({})
    notifications = service_environment(
        shared(keys), port=8005, database_url=None, base_env={}, service=NOTIFICATIONS
    )
    entry = service_environment(
        shared(keys), port=8004, database_url=None, base_env={}, service=ENTRY
    )

    own_key = notifications["SERVICE_TOKEN_PRIVATE_KEY"]
    assert entry["TRUSTED_SERVICE_KEYS"] == f"notifications={public_key_text_of(own_key)}"
    assert notifications["ENTRY_URL"] == "http://127.0.0.1:8004"
    assert notifications["SHOP_URL"] == "http://127.0.0.1:8080"
