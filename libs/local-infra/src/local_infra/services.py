"""The platform services and the web front end: how each is launched, with what environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service_kit.internal_auth import public_key_text_of, service_key_names
from ticketing_contracts.internal_http import INTERNAL_SERVICES

GATEWAY = "gateway"
BOOKING_COMMAND = "booking-command"
INVENTORY = "inventory"
QUERY_PROJECTION = "query-projection"
ENTRY = "entry"
NOTIFICATIONS = "notifications"
# Not platform services: stand for the external payment provider and the SMTP relay
# (simulators/).
PAYMENT_SIMULATOR = "payment-simulator"
MAIL_CATCHER = "mail-catcher"
WEB = "web"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    default_port: int
    default_database: str | None


SERVICE_SPECS: Mapping[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec(BOOKING_COMMAND, "booking_command", 8001, "ticketing_booking"),
        ServiceSpec(INVENTORY, "inventory", 8002, "ticketing_inventory"),
        ServiceSpec(QUERY_PROJECTION, "query_projection", 8003, "ticketing_query"),
        ServiceSpec(ENTRY, "entry", 8004, "ticketing_entry"),
        ServiceSpec(NOTIFICATIONS, "notifications", 8005, "ticketing_notifications"),
        ServiceSpec(PAYMENT_SIMULATOR, "payment_simulator", 8010, "payment_simulator"),
        # Its HTTP port reads what it caught; its SMTP port is the stack's SMTP_URL.
        ServiceSpec(MAIL_CATCHER, "mail_catcher", 8025, None),
        # Started last only in the listing; all start together and the gateway's
        # readiness does not depend on the others being up first.
        ServiceSpec(GATEWAY, "gateway", 8000, "ticketing_gateway"),
        # The shop and console: calls only the gateway (GATEWAY_URL).
        ServiceSpec(WEB, "ticketing_web", 8080, None),
    )
}

# Who calls whom without the gateway, each with its own key: callee -> its callers. A
# service gets its own private key when it calls another, and the public keys of its
# callers as TRUSTED_SERVICE_KEYS.
SERVICE_CALLERS: Mapping[str, tuple[str, ...]] = {
    # inventory's unclaimed-hold sweeper asks POST /internal/v1/bookings/known.
    BOOKING_COMMAND: (INVENTORY,),
    # booking-command's group commit holds with POST /internal/v1/holds (and its
    # reconciliation after a restore reads and releases: /internal/v1/reconciliation/...).
    INVENTORY: (BOOKING_COMMAND,),
    # booking-command's reconciliation after a restore: /internal/v1/reconciliation/...
    QUERY_PROJECTION: (BOOKING_COMMAND,),
    # notifications attaches GET /internal/v1/bookings/{id}/tickets.pdf to confirmations.
    ENTRY: (NOTIFICATIONS,),
}
CALLING_SERVICES: tuple[str, ...] = tuple(
    sorted({caller for callers in SERVICE_CALLERS.values() for caller in callers})
)

DEFAULT_DATABASES: Mapping[str, str] = {
    spec.name: spec.default_database
    for spec in SERVICE_SPECS.values()
    if spec.default_database is not None
}


@dataclass(frozen=True)
class SharedSettings:
    """Everything every service gets, whichever of it it reads."""

    environment: str
    log_level: str
    host: str
    redis_url: str
    redis_key_prefix: str
    kafka_bootstrap_servers: str
    kafka_topic_prefix: str
    service_urls: Mapping[str, str]
    # The key the payment simulator checks and booking-command sends.
    payment_provider_secret_key: str
    extra_env: Mapping[str, str]


def service_environment(
    settings: SharedSettings,
    *,
    port: int,
    database_url: str | None,
    base_env: Mapping[str, str],
    service: str | None = None,
) -> dict[str, str]:
    """The process environment for one service (the service env contract)."""
    env = dict(base_env)
    env.update(settings.extra_env)
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "ENVIRONMENT": settings.environment,
            "LOG_LEVEL": settings.log_level,
            "HTTP_HOST": settings.host,
            "HTTP_PORT": str(port),
            "REDIS_URL": settings.redis_url,
            "REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            # As docker-compose and Kubernetes run it: no record duplicated by a retry.
            "KAFKA_IDEMPOTENT_PRODUCER": "true",
            "BOOKING_COMMAND_URL": settings.service_urls[BOOKING_COMMAND],
            "INVENTORY_URL": settings.service_urls[INVENTORY],
            "QUERY_PROJECTION_URL": settings.service_urls[QUERY_PROJECTION],
            "ENTRY_URL": settings.service_urls[ENTRY],
            "PAYMENT_PROVIDER_URL": settings.service_urls[PAYMENT_SIMULATOR],
            "PAYMENT_PROVIDER_SECRET_KEY": settings.payment_provider_secret_key,
            "PAYMENT_SIMULATOR_SECRET_KEY": settings.payment_provider_secret_key,
            "GATEWAY_URL": settings.service_urls[GATEWAY],
            # notifications' links in mails.
            "SHOP_URL": settings.service_urls[WEB],
            # Logs go to files; without this a crash can lose its last lines.
            "PYTHONUNBUFFERED": "1",
        }
    )
    if service == GATEWAY and "FORWARDED_ALLOW_IPS" not in settings.extra_env:
        # web passes each person's address on in X-Forwarded-For, from this host.
        env["FORWARDED_ALLOW_IPS"] = (
            "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        )
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(_service_token_environment(env, service))
    return env


def _service_token_environment(env: dict[str, str], service: str | None) -> dict[str, str]:
    """`service`'s own key as SERVICE_TOKEN_PRIVATE_KEY and its callers' public keys as
    TRUSTED_SERVICE_KEYS, from the `<SERVICE>_SERVICE_TOKEN_PRIVATE_KEY` variables (taken
    out of `env`: no service gets another's private key)."""
    private_keys = {
        name: env.pop(service_key_names(name)[0])
        for name in INTERNAL_SERVICES
        if service_key_names(name)[0] in env
    }
    own_key = private_keys.get(service or "", "")
    trusted = [
        f"{caller}={public_key_text_of(private_keys[caller])}"
        for caller in SERVICE_CALLERS.get(service or "", ())
        if caller in private_keys
    ]
    return {"SERVICE_TOKEN_PRIVATE_KEY": own_key, "TRUSTED_SERVICE_KEYS": ",".join(trusted)}
