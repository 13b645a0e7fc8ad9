"""Kafka subscribers: booking events (consumer group `inventory`) and the catalog (every replica).

Each takes one partition's batch from the kit's runtime and decides it with the batch use
case, which stores its effects and `batch.next_offset` in one transaction. Decoding,
dead letters, retries and positions are the runtime's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from inventory.adapters import metrics
from inventory.application.errors import CatalogNotCaughtUp, ConcurrencyConflict, PositionMoved
from inventory.application.messages import DecodedMessage, MessagePosition
from inventory.application.process_batch import BatchResult
from inventory.domain import outcomes
from inventory.settings import InventorySettings
from service_kit.circuit_breakers import CircuitBreaker
from service_kit.kafka import retries
from service_kit.kafka.messages import PartitionBatch
from service_kit.kafka.positions import OffsetsMoved, OffsetStore
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka.subscription import Subscription
from ticketing_contracts import topics
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import PublicEvent, decode_message

logger = logging.getLogger(__name__)

Decoded = tuple[EventEnvelope, PublicEvent]
Batch = PartitionBatch[Decoded]


class DecideBatch(Protocol):
    async def __call__(
        self,
        messages: Sequence[DecodedMessage],
        *,
        next_offset: MessagePosition,
        continues_from: int | None = None,
    ) -> BatchResult: ...


@dataclass(frozen=True)
class SubscriberDependencies:
    decide: DecideBatch
    postgres_breaker: CircuitBreaker
    after_commit: Callable[[], None] = lambda: None


def is_transient(error: BaseException) -> bool:
    """The kit's transient failures, plus a lost race and a lagging catalog: decide later."""
    return isinstance(error, ConcurrencyConflict | CatalogNotCaughtUp) or (
        retries.is_transient(error)
    )


async def apply_booking_events(batch: Batch, dependencies: SubscriberDependencies) -> None:
    """Reserves, confirms, releases tickets and claims holds made over HTTP, in one transaction."""
    await _decide(batch, dependencies)


async def apply_catalog_events(batch: Batch, dependencies: SubscriberDependencies) -> None:
    """Learns shows and ticket types from the catalog, in one transaction."""
    await _decide(batch, dependencies)


async def _decide(batch: Batch, dependencies: SubscriberDependencies) -> None:
    messages = [
        DecodedMessage(
            MessagePosition(m.topic, m.partition, m.offset), *m.body, tuple(m.trace_headers)
        )
        for m in batch.messages
    ]
    next_offset = MessagePosition(batch.topic, batch.partition, batch.next_offset)
    context = batch.messages[0].logging_context() if batch.messages else contextlib.nullcontext()
    with context:
        with dependencies.postgres_breaker.calling():
            try:
                result = await dependencies.decide(
                    messages, next_offset=next_offset, continues_from=batch.continues_from
                )
            except PositionMoved as moved:
                raise OffsetsMoved(str(moved)) from moved
        if result.waited_for_catalog:
            logger.info(
                "%s[%d]: waited for the catalog to catch up before deciding",
                batch.topic,
                batch.partition,
            )
    _count(result)
    dependencies.after_commit()


def _count(result: BatchResult) -> None:
    for outcome in result.outcomes:
        match outcome:
            case outcomes.TicketsReserved():
                metrics.RESERVATIONS.inc()
            case outcomes.ReservationRejected(reason=reason):
                metrics.REJECTIONS.labels(reason=reason.value).inc()
            case outcomes.TicketsReleased(reason=release_reason):
                metrics.RELEASES.labels(reason=release_reason.value).inc()


def subscribe(
    runtime: KafkaRuntime,
    settings: InventorySettings,
    dependencies: SubscriberDependencies,
    stored_offsets: OffsetStore,
) -> tuple[Subscription[Decoded], Subscription[Decoded]]:
    """Registers both subscribers; returns (bookings, catalog)."""
    bookings = runtime.subscriber(
        settings.topic(topics.BOOKING_EVENTS),
        group=settings.group_id(settings.consumer_group),
        decode=decode_message,
        offsets=stored_offsets,
        name="apply_booking_events",
        message_type=EventEnvelope,
        description=apply_booking_events.__doc__,
    )(partial(apply_booking_events, dependencies=dependencies))
    catalog = runtime.subscriber(
        settings.topic(topics.CATALOG_EVENTS),
        group=None,
        dead_letter_group=settings.group_id(settings.consumer_group),
        decode=decode_message,
        offsets=stored_offsets,
        name="apply_catalog_events",
        message_type=EventEnvelope,
        description=apply_catalog_events.__doc__,
    )(partial(apply_catalog_events, dependencies=dependencies))
    return bookings, catalog
