"""Service settings read from the environment (and an optional `.env`).

Each service composes the groups it uses (Postgres, Redis, Kafka, JWT) on top of
`ServiceSettings`. Invalid or unsafe configuration stops the service at start-up
with a message that names every offending variable.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal, Self, TypeVar, get_args

from pydantic import (
    Field,
    FilePath,
    PostgresDsn,
    RedisDsn,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from service_kit.internal_auth import (
    InvalidKeyError,
    private_key_from_text,
    public_key_from_text,
)
from ticketing_contracts import topics
from ticketing_contracts.internal_http import INTERNAL_SERVICES

MIN_JWT_SECRET_LENGTH = 32
# Words long enough that a random secret never contains them by chance.
PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "example",
    "secret",
    "password",
)
# Short words a random 64-character secret contains about once in 500 draws ("XxX", "ToDo"), so
# they count only as whole words: at either end or between separators.
_PLACEHOLDER_SHORT_WORDS = re.compile(r"(?:^|[^a-z0-9])(?:x{3,}|todo|dummy|your)(?:[^a-z0-9]|$)")
# JWT secrets written into this repository's tests and examples: public, so production
# refuses them even though they are long and random-looking.
KNOWN_TEST_JWT_SECRETS = frozenset(
    {
        "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx",
        "k3Jq9vX2pL7mN4bR8tY1wZ6cF0hD5sGa",
        "Qm3Vt8Zr1Nc6Lp9Ws2Hy5Kd7Gf4Jb0XaEu3Ro8Ti6",
    }
)
_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._-]*$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class KafkaSecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class Dependency(StrEnum):
    """What a setting connects to. Marked on the field (`Annotated[RedisDsn, Dependency.REDIS]`),
    it tells the deployment checks (tests/deploy) that every overlay must give the service
    this setting and let it reach the address it names."""

    POSTGRESQL = "postgresql"
    REDIS = "redis"
    KAFKA = "kafka"
    HTTP = "http"  # another service, or an external API such as the payment provider
    SMTP = "smtp"  # a mail server, named as smtp://host:port


def setting_dependencies(settings_class: type[BaseSettings]) -> dict[str, Dependency]:
    """Field name -> what it connects to, for each marked field of `settings_class`. A field
    that a subclass declares again (a service's own DATABASE_URL default) keeps its mark."""
    marked: dict[str, Dependency] = {}
    for klass in reversed(settings_class.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseSettings)):
            continue
        for name, field in klass.model_fields.items():
            metadata = list(field.metadata)
            # `Annotated[AnyUrl, Dependency.SMTP] | None` keeps its mark inside the union.
            for member in get_args(field.annotation):
                metadata += getattr(member, "__metadata__", ())
            marks = [item for item in metadata if isinstance(item, Dependency)]
            if marks:
                marked[name] = marks[0]
    return {name: mark for name, mark in marked.items() if name in settings_class.model_fields}


class ConfigurationError(SystemExit):
    """Raised at start-up when the environment does not describe a runnable service."""


def looks_like_placeholder(value: str) -> bool:
    lowered = value.lower()
    return (
        any(word in lowered for word in PLACEHOLDER_WORDS)
        or _PLACEHOLDER_SHORT_WORDS.search(lowered) is not None
        or len(set(value)) <= 2
    )


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    service_name: str = "service"
    service_version: str = "0.1.0"
    environment: Environment = Environment.DEVELOPMENT
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    shutdown_grace_seconds: int = Field(
        default=20, ge=1, le=600, description="Time in-flight requests get to finish on SIGTERM"
    )
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    health_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="Readiness results are shared by every caller for this long (0: no cache)",
    )
    http_limit_concurrency: int | None = Field(
        default=4096,
        ge=1,
        description="Connections and tasks uvicorn serves at once; beyond it answers 503",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description=(
            "Comma-separated proxy addresses (or *) whose X-Forwarded-For is trusted, e.g. the "
            "ingress controller; empty trusts none and the TCP peer is the client"
        ),
    )

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION


class PostgresSettings(ServiceSettings):
    database_url: Annotated[PostgresDsn, Dependency.POSTGRESQL] = PostgresDsn(
        "postgresql://postgres@127.0.0.1:5432/ticketing"
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)

    @model_validator(mode="after")
    def _production_database_needs_real_password(self) -> Self:
        if self.is_production:
            password = self.database_url.hosts()[0].get("password")
            if not password or looks_like_placeholder(password):
                raise ValueError(
                    "DATABASE_URL must carry a real password in production "
                    "(none or a placeholder was given)"
                )
        return self

    @property
    def database_dsn(self) -> str:
        return str(self.database_url)


class RedisSettings(ServiceSettings):
    redis_url: Annotated[RedisDsn, Dependency.REDIS] = RedisDsn("redis://127.0.0.1:6379/0")
    redis_key_prefix: str = Field(default="", max_length=64)


class KafkaSettings(ServiceSettings):
    kafka_bootstrap_servers: Annotated[str, Dependency.KAFKA] = "127.0.0.1:9092"
    kafka_topic_prefix: str = Field(default="", max_length=100)
    kafka_idempotent_producer: bool = Field(
        default=False,
        description="Enable on real Kafka; correctness never depends on it",
    )
    kafka_producer_max_batch_bytes: int = Field(
        default=16_384,
        ge=1,
        description=(
            "Most bytes the producer puts in one batch per partition (aiokafka's "
            "max_batch_size); 1 sends one record per batch"
        ),
    )

    kafka_security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.PLAINTEXT
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_ca_file: FilePath | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates (TLS)"
    )
    kafka_ssl_cert_file: FilePath | None = Field(
        default=None, description="Client certificate for mutual TLS, with KAFKA_SSL_KEY_FILE"
    )
    kafka_ssl_key_file: FilePath | None = None
    kafka_allow_plaintext: bool = Field(
        default=False,
        description=(
            "Let production talk to Kafka without TLS and authentication: only for a "
            "private network no one else can join (e.g. docker compose)"
        ),
    )
    dead_letter_kafka_username: str = Field(
        default="",
        description=(
            "SASL user of the dead-letter commands (the admin routes /internal/v1/dead-letters "
            "and `dead-letters list|redrive`), with DEAD_LETTER_KAFKA_PASSWORD: the service's "
            "own user may neither read dead letters nor write the topics it consumes. Unset: "
            "they use KAFKA_SASL_USERNAME"
        ),
    )
    dead_letter_kafka_password: SecretStr = SecretStr("")

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_is_host_port_list(cls, value: str) -> str:
        servers = [server.strip() for server in value.split(",") if server.strip()]
        if not servers:
            raise ValueError("at least one host:port is required")
        for server in servers:
            if not _HOST_PORT.match(server) or not 0 < int(server.rsplit(":", 1)[1]) < 65536:
                raise ValueError(f"{server!r} is not host:port")
        return ",".join(servers)

    @field_validator("kafka_topic_prefix")
    @classmethod
    def _topic_prefix_is_legal(cls, value: str) -> str:
        if not _TOPIC_PREFIX.match(value):
            raise ValueError("only letters, digits, '.', '_' and '-' are allowed in topic names")
        return value

    consumer_max_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Most messages a subscriber is handed (and stores in one transaction)",
    )
    consumer_fetch_timeout_ms: int = Field(default=100, ge=1, le=10_000)
    consumer_fetch_min_bytes: int = Field(
        default=65_536,
        ge=1,
        le=52_428_800,
        description=(
            "The data a fetch waits for, at most CONSUMER_FETCH_TIMEOUT_MS: under load a "
            "subscriber is handed bigger batches (one transaction each) and the broker answers "
            "fewer fetches; a lone message waits at most the timeout"
        ),
    )
    consumer_lag_check_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description=(
            "How often each subscriber asks Kafka for its partitions' end offsets, so the lag "
            "metric also shows a subscriber that is stuck or paused (between checks it comes "
            "from the high watermark of each fetch)"
        ),
    )
    consumer_offset_copy_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description=(
            "How often Kafka's copy of the consumer positions (for lag tooling) is committed; "
            "the positions themselves are stored with each batch's effects"
        ),
    )
    consumer_max_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description=(
            "Times a message may fail for a non-transient reason before it goes to the "
            "dead-letter topic"
        ),
    )
    broker_check_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often a running service asks whether its Kafka broker was replaced",
    )
    consumer_retry_initial_seconds: float = Field(default=0.05, gt=0, le=10)
    consumer_retry_max_seconds: float = Field(default=5.0, gt=0, le=300)

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol in (
            KafkaSecurityProtocol.SASL_PLAINTEXT,
            KafkaSecurityProtocol.SASL_SSL,
        )

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in (
            KafkaSecurityProtocol.SSL,
            KafkaSecurityProtocol.SASL_SSL,
        )

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Self:
        if self.kafka_uses_sasl and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ValueError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together (mTLS)")
        tls_files = (self.kafka_ssl_ca_file, self.kafka_ssl_cert_file)
        if not self.kafka_uses_tls and any(path is not None for path in tls_files):
            raise ValueError(
                "KAFKA_SSL_* files are only used with KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL"
            )
        if self.is_production and not self.kafka_allow_plaintext:
            authenticated = self.kafka_uses_sasl or self.kafka_ssl_cert_file is not None
            if not (self.kafka_uses_tls and authenticated):
                raise ValueError(
                    "production needs KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SSL with a client "
                    "certificate): Kafka without TLS and authentication lets any pod forge "
                    "events; set KAFKA_ALLOW_PLAINTEXT=true only on a private network"
                )
            if self.kafka_uses_sasl and looks_like_placeholder(
                self.kafka_sasl_password.get_secret_value()
            ):
                raise ValueError("KAFKA_SASL_PASSWORD looks like a placeholder")
        return self

    @model_validator(mode="after")
    def _dead_letter_credentials_are_complete(self) -> Self:
        username = self.dead_letter_kafka_username
        password = self.dead_letter_kafka_password.get_secret_value()
        if bool(username) != bool(password):
            raise ValueError(
                "DEAD_LETTER_KAFKA_USERNAME and DEAD_LETTER_KAFKA_PASSWORD go together"
            )
        if username and not self.kafka_uses_sasl:
            raise ValueError(
                "DEAD_LETTER_KAFKA_* are SASL credentials: only used with "
                "KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT"
            )
        if self.is_production and self.kafka_uses_sasl:
            if not username:
                raise ValueError(
                    "production with SASL needs DEAD_LETTER_KAFKA_USERNAME and "
                    "DEAD_LETTER_KAFKA_PASSWORD (e.g. the Kafka user dead-letter-redrive): the "
                    "service's own user may not read dead letters, so the admin dead-letter "
                    "routes would fail"
                )
            if looks_like_placeholder(password):
                raise ValueError("DEAD_LETTER_KAFKA_PASSWORD looks like a placeholder")
        return self

    @property
    def has_dead_letter_credentials(self) -> bool:
        return bool(self.dead_letter_kafka_username)

    def dead_letter_kafka_settings(self) -> Self:
        """These settings as the dead-letter commands connect: logged in as
        DEAD_LETTER_KAFKA_USERNAME when set (same brokers, TLS and SASL mechanism),
        unchanged otherwise."""
        if not self.has_dead_letter_credentials:
            return self
        return self.model_copy(
            update={
                "kafka_sasl_username": self.dead_letter_kafka_username,
                "kafka_sasl_password": self.dead_letter_kafka_password,
            }
        )

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"

    @property
    def catalog_topic(self) -> str:
        return self.topic(topics.CATALOG_EVENTS)

    @property
    def booking_topic(self) -> str:
        return self.topic(topics.BOOKING_EVENTS)

    @property
    def inventory_topic(self) -> str:
        return self.topic(topics.INVENTORY_EVENTS)

    @property
    def dead_letter_topic(self) -> str:
        return self.topic(topics.DEAD_LETTERS)

    def group_id(self, name: str) -> str:
        """Consumer groups are broker-wide, so the prefix namespaces them as well as topics."""
        return f"{self.kafka_topic_prefix}{name}"


class JwtSettings(ServiceSettings):
    jwt_secret: SecretStr = Field(description="HMAC key for HS256 tokens; at least 32 characters")
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"

    @field_validator("jwt_secret")
    @classmethod
    def _secret_is_strong(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if len(secret) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_JWT_SECRET_LENGTH} characters (got {len(secret)}); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if looks_like_placeholder(secret):
            raise ValueError("looks like a placeholder; generate a random secret")
        return value

    @model_validator(mode="after")
    def _production_refuses_published_secrets(self) -> Self:
        if self.is_production and self.jwt_secret.get_secret_value() in KNOWN_TEST_JWT_SECRETS:
            raise ValueError(
                "JWT_SECRET is a test secret published in this repository; generate a new one"
            )
        return self


class InternalTokenSettings(ServiceSettings):
    """An internal service: it checks the tokens of the gateway and of the services it
    trusts, each with that signer's public key."""

    internal_token_public_key: str = Field(
        description=(
            "Ed25519 public key (base64url, 32 bytes) that checks the gateway's internal "
            "tokens; generate a pair with: python -m service_kit.internal_auth"
        )
    )
    internal_token_leeway_seconds: int = Field(default=5, ge=0, le=60)
    trusted_service_keys: str = Field(
        default="",
        description=(
            "Services whose own tokens this service accepts, each with the public half of "
            "its SERVICE_TOKEN_PRIVATE_KEY: `booking-command=<key>,inventory=<key>`; empty: "
            "the gateway's tokens only. A route still names which of them may call it"
        ),
    )

    @field_validator("internal_token_public_key")
    @classmethod
    def _public_key_is_valid(cls, value: str) -> str:
        public_key_from_text(value)
        return value.strip()

    @field_validator("trusted_service_keys")
    @classmethod
    def _trusted_services_are_known(cls, value: str) -> str:
        keys = _parse_service_keys(value)
        return ",".join(f"{name}={key}" for name, key in keys.items())

    @model_validator(mode="after")
    def _every_signer_has_its_own_key(self) -> Self:
        signers = {"the gateway": self.internal_token_public_key, **self.trusted_services}
        by_key: dict[str, list[str]] = {}
        for signer, key in signers.items():
            by_key.setdefault(key.rstrip("="), []).append(signer)
        shared = [names for names in by_key.values() if len(names) > 1]
        if shared:
            raise ValueError(
                f"{' and '.join(shared[0])} have the same public key: each signs with its own "
                "key pair (python -m service_kit.internal_auth SERVICE)"
            )
        return self

    @property
    def trusted_services(self) -> dict[str, str]:
        """Service name -> public key, as TRUSTED_SERVICE_KEYS names them."""
        return _parse_service_keys(self.trusted_service_keys)


def _parse_service_keys(value: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        name, equals, key = (text.strip() for text in entry.partition("="))
        if not equals or not name or not key:
            raise ValueError(f"{entry!r} is not service=public-key")
        if name not in INTERNAL_SERVICES:
            raise ValueError(
                f"unknown service {name!r}; one of {', '.join(sorted(INTERNAL_SERVICES))} "
                "(the gateway's key is INTERNAL_TOKEN_PUBLIC_KEY)"
            )
        if name in keys:
            raise ValueError(f"{name} is named twice")
        try:
            public_key_from_text(key)
        except InvalidKeyError as error:
            raise ValueError(f"{name}: {error}") from None
        keys[name] = key
    return keys


class ServiceTokenIssuerSettings(ServiceSettings):
    """A service that calls another internal service: it signs its own tokens (issuer and
    subject its SERVICE_NAME, role service) with its own key, never the gateway's."""

    service_token_private_key: SecretStr | None = Field(
        default=None,
        description=(
            "This service's own Ed25519 private key (base64url, 32 bytes) for its calls to "
            "other internal services, which trust its public half (TRUSTED_SERVICE_KEYS); "
            "generate a pair with: python -m service_kit.internal_auth SERVICE. Required in "
            "production; unset elsewhere, those calls carry no token and are refused"
        ),
    )
    service_token_ttl_seconds: int = Field(default=60, ge=10, le=600)

    @field_validator("service_token_private_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("service_token_private_key")
    @classmethod
    def _service_key_is_valid(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            private_key_from_text(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _service_key_is_complete(self) -> Self:
        if self.service_token_private_key is None:
            if self.is_production:
                raise ValueError(
                    f"SERVICE_TOKEN_PRIVATE_KEY is required in production: {self.service_name} "
                    "calls other internal services with its own token"
                )
            return self
        if self.service_name not in INTERNAL_SERVICES:
            raise ValueError(
                f"SERVICE_NAME {self.service_name!r} signs tokens no service trusts; one of "
                f"{', '.join(sorted(INTERNAL_SERVICES))}"
            )
        return self


class InternalTokenIssuerSettings(ServiceSettings):
    """The gateway: signs a short-lived token for each call to an internal service."""

    internal_token_private_key: SecretStr = Field(
        description=(
            "Ed25519 private key (base64url, 32 bytes) for internal tokens; its own key, "
            "never the JWT secret"
        )
    )
    internal_token_ttl_seconds: int = Field(default=60, ge=10, le=600)

    @field_validator("internal_token_private_key")
    @classmethod
    def _private_key_is_valid(cls, value: SecretStr) -> SecretStr:
        private_key_from_text(value.get_secret_value())
        return value


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Build settings or stop with one readable line per invalid variable."""
    try:
        return settings_class()
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            variable = "_".join(str(part) for part in issue["loc"]).upper() or "settings"
            problems.append(f"  {variable}: {issue['msg']}")
        message = "Invalid configuration, refusing to start:\n" + "\n".join(problems)
        raise ConfigurationError(message) from None
