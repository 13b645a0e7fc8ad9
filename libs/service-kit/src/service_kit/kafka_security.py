"""How every Kafka client of a service authenticates and encrypts, from its `KafkaSettings`.

The runtime's faststream broker takes `broker_security`; clients built directly with
aiokafka (admin, probes, replays, dead-letter commands) take `kafka_client_options`.
Both come from the same settings, so no client of a service connects differently.
"""

from __future__ import annotations

import ssl
from typing import Any

from faststream.kafka.security import parse_security
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from service_kit.settings import KafkaSecurityProtocol, KafkaSettings

_SASL = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


def kafka_ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """Verifies the brokers against KAFKA_SSL_CA_FILE (the system CAs without it) and
    presents the client certificate for mTLS when one is configured."""
    if not settings.kafka_uses_tls:
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_ca_file) if settings.kafka_ssl_ca_file else None
    )
    if settings.kafka_ssl_cert_file is not None and settings.kafka_ssl_key_file is not None:
        context.load_cert_chain(settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file)
    return context


def broker_security(settings: KafkaSettings) -> BaseSecurity | None:
    """faststream's security object for the settings (None: PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    if protocol is KafkaSecurityProtocol.PLAINTEXT:
        return None
    context = kafka_ssl_context(settings)
    if protocol is KafkaSecurityProtocol.SSL:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    sasl = _SASL[settings.kafka_sasl_mechanism]
    return sasl(
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol is KafkaSecurityProtocol.SASL_SSL,
    )


def kafka_client_options(kafka: KafkaSettings | str) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client: bootstrap servers plus security.

    A bare bootstrap string means PLAINTEXT (local brokers and tests).
    """
    if isinstance(kafka, str):
        return {"bootstrap_servers": kafka}
    return {
        "bootstrap_servers": kafka.kafka_bootstrap_servers,
        **parse_security(broker_security(kafka)),
    }
