"""How a subscription is registered on faststream: as a batch subscriber that hands the
fetched records, undecoded, to the subscription, which decodes each message itself so one
bad message cannot fail its neighbours.

This module has no `from __future__ import annotations` on purpose: the handler's annotation
is evaluated where the handler is defined, from the message type the service gave, and
faststream documents the subscriber's payload (AsyncAPI) from that annotation.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiokafka import ConsumerRecord
from aiokafka.abc import ConsumerRebalanceListener
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage

from service_kit.messaging import header_map
from service_kit.settings import KafkaSettings
from ticketing_contracts import headers as ce

FetchedRecords = Sequence[ConsumerRecord[Any, Any]]


class RunningSubscriber(Protocol):
    """What the runtime reads from the faststream subscriber it registered."""

    @property
    def consumer(self) -> Any:
        """The aiokafka consumer while it runs (None before; a stand-in under TestKafkaBroker),
        as faststream's own `Consumer` annotation (`handler_.consumer`) hands it to handlers."""

    @property
    def running(self) -> bool: ...


def register_batch_subscriber(
    broker: KafkaBroker,
    consume: Callable[[FetchedRecords], Awaitable[None]],
    *,
    topics: Sequence[str],
    group: str | None,
    settings: KafkaSettings,
    listener: ConsumerRebalanceListener | None,
    name: str,
    description: str | None,
    message_type: Any,
) -> RunningSubscriber:
    """Registers `consume` for batches of `topics`; faststream never acknowledges them (the
    subscription stores its positions with the service and copies them to Kafka itself)."""

    # Annotated with the service's message type for the AsyncAPI document only: it is handed
    # the fetched records (the broker applies no types), which the subscription decodes.
    async def handler(records: list[message_type]) -> None:
        await consume(records)

    handler.__name__ = handler.__qualname__ = name  # faststream's logs name subscribers by it
    subscriber = broker.subscriber(
        *topics,
        batch=True,
        group_id=group,
        auto_offset_reset="earliest",
        max_records=settings.consumer_max_batch,
        batch_timeout_ms=settings.consumer_fetch_timeout_ms,
        fetch_max_wait_ms=settings.consumer_fetch_timeout_ms,
        fetch_min_bytes=settings.consumer_fetch_min_bytes,
        ack_policy=AckPolicy.MANUAL,
        listener=listener,
        parser=_lenient_batch_parser,
        decoder=_fetched_records,
        title=f"{name}:consume",
        description=description,
    )
    subscriber(handler)
    return subscriber


async def _lenient_batch_parser(records: FetchedRecords) -> StreamMessage[FetchedRecords]:
    """faststream's own batch parser decodes headers strictly; one bad header would lose
    the whole batch before the subscription could dead-letter that message."""
    first = records[0] if records else None
    headers = header_map(first.headers) if first is not None else {}
    return StreamMessage(
        raw_message=records,
        body=b"",
        headers=headers,
        batch_headers=[header_map(record.headers) for record in records],
        content_type=headers.get("content-type"),
        message_id=f"{first.topic}-{first.partition}-{first.offset}" if first else "",
        correlation_id=headers.get(ce.CORRELATION_ID),
    )


async def _fetched_records(message: StreamMessage[FetchedRecords]) -> FetchedRecords:
    return message.raw_message
