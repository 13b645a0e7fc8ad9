"""The service's faststream broker: how its producer sends, and the topics it publishes to.

Publishing (outbox relays, dead letters, re-drives) goes through this one producer, which
waits for every in-sync replica before a send counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from faststream.kafka import KafkaBroker

from service_kit.kafka.messages import OutboundMessage
from service_kit.kafka.spans import messages_with_publish_spans
from service_kit.kafka_security import broker_security
from service_kit.messaging import header_map
from service_kit.settings import KafkaSettings


def create_broker(settings: KafkaSettings, **overrides: Any) -> KafkaBroker:
    """A broker whose producer waits for every in-sync replica before a send counts,
    authenticated and encrypted as the settings say (KAFKA_SECURITY_PROTOCOL...)."""
    options: dict[str, Any] = {
        "security": broker_security(settings),
        "client_id": settings.service_name,
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotent_producer,
        "linger_ms": 5,
        "max_batch_size": settings.kafka_producer_max_batch_bytes,
        "request_timeout_ms": 10_000,
        # The runtime decodes and validates each message itself (see kafka.subscription).
        "apply_types": False,
        "logger": logging.getLogger(f"{settings.service_name}.kafka"),
    }
    options.update(overrides)
    return KafkaBroker(settings.kafka_bootstrap_servers, **options)


class TopicPublisher(Protocol):
    """A faststream publisher of one topic, as `KafkaBroker.publisher` declares it; without
    confirmation it returns the acknowledgement to wait for (nothing under TestKafkaBroker)."""

    async def publish(
        self,
        message: bytes,
        *,
        key: bytes | None,
        headers: dict[str, str],
        no_confirm: Literal[True],
    ) -> asyncio.Future[Any] | None: ...


class Publishers:
    """The topics a service declares it publishes to, each through its own faststream
    publisher so the AsyncAPI document lists it."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker
        self._by_topic: dict[str, TopicPublisher] = {}

    def declare(self, topic: str, *, message_type: Any, description: str) -> None:
        if topic not in self._by_topic:
            self._by_topic[topic] = self._broker.publisher(
                topic, schema=message_type, title=f"{topic}:publish", description=description
            )

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Sends in order and waits for every acknowledgement (keyed order holds per partition)."""
        pending = []
        for message in messages_with_publish_spans(messages):
            publisher = self._by_topic.get(message.topic)
            sent: asyncio.Future[Any] | None
            if publisher is None:
                sent = await self._broker.publish(
                    message.value,
                    message.topic,
                    key=message.key,
                    headers=header_map(message.headers),
                    no_confirm=True,
                )
            else:
                sent = await publisher.publish(
                    message.value,
                    key=message.key,
                    headers=header_map(message.headers),
                    no_confirm=True,
                )
            if sent is not None:
                pending.append(sent)
        if pending:
            await asyncio.gather(*pending)
