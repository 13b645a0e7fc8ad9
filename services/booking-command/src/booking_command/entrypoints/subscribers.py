"""booking-command's Kafka subscriber: inventory's outcomes drive the booking saga.

Each batch of a partition is applied in one event-store transaction that also tracks
the partition's last offset (eventsourcing tracking, notification id = Kafka offset),
so the partition continues at `max_tracking_id + 1` and a redelivered message is
never applied twice. Decoding, dead letters, retries and positions are the runtime's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping

from aiokafka import TopicPartition
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.ports import PositionMoved
from booking_command.application.saga import InventoryOutcome
from booking_command.domain.booking import RejectionReason
from booking_command.settings import BookingCommandSettings
from service_kit.kafka import retries
from service_kit.kafka.messages import ConsumedMessage, PartitionBatch
from service_kit.kafka.positions import OffsetsMoved
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka.subscription import Subscription
from service_kit.tracing import TRACEPARENT_HEADER
from ticketing_contracts import topics
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    PublicEvent,
    ReservationRejected,
    TicketsReserved,
    decode_message,
)

logger = logging.getLogger(__name__)

InventoryMessage = tuple[EventEnvelope, PublicEvent]


def is_transient(error: BaseException) -> bool:
    """The kit's transient failures, plus the event store's.

    An IntegrityError means a booking changed concurrently (a cancel, an expiry) or
    another consumer tracked the same offsets: the batch is applied again on fresh state.
    """
    if isinstance(error, IntegrityError | OperationalError | InterfaceError):
        return True
    return retries.is_transient(error)


def stream_name(topic: str, partition: int, tracking_epoch: str = "") -> str:
    """The saga's tracking stream of one topic partition (of one Kafka cluster)."""
    return f"inventory:{topic}:{partition}{tracking_epoch}"


def to_outcome(message: ConsumedMessage[InventoryMessage]) -> InventoryOutcome:
    envelope, event = message.body
    if isinstance(event, TicketsReserved):
        kind, reason = "reserved", None
    elif isinstance(event, ReservationRejected):
        kind, reason = "rejected", RejectionReason(event.reason.value)
    else:
        kind, reason = "other", None
    return InventoryOutcome(
        offset=message.offset,
        kind=kind,
        booking_id=getattr(event, "booking_id", None),
        correlation_id=envelope.correlation_id,
        reason=reason,
        traceparent=dict(message.trace_headers).get(TRACEPARENT_HEADER, b"").decode() or None,
    )


def subscribe_inventory_outcomes(
    runtime: KafkaRuntime,
    settings: BookingCommandSettings,
    app: BookingCommandApplication,
    executor: EventStoreExecutor,
    *,
    on_payments_due: Callable[[], None] = lambda: None,
) -> Subscription[InventoryMessage]:
    """Registers `apply_inventory_outcomes` on the runtime (positions from the event store);
    `on_payments_due` wakes the payment worker when reservations made payments due."""

    async def stored_offsets(
        partitions: Collection[TopicPartition],
    ) -> Mapping[TopicPartition, int]:
        streams = {stream_name(tp.topic, tp.partition, app.tracking_epoch): tp for tp in partitions}
        positions = await executor.run(app.saga_positions, list(streams))
        return {streams[stream]: offset for stream, offset in positions.items()}

    @runtime.subscriber(
        settings.topic(topics.INVENTORY_EVENTS),
        group=settings.group_id(settings.consumer_group),
        decode=decode_message,
        offsets=stored_offsets,
        message_type=EventEnvelope,
        description=(
            "Inventory's answers (TicketsReserved, ReservationRejected): a reservation makes "
            "the booking's payment due (charged, then confirmed), a rejection rejects the "
            "PENDING booking; other inventory events are only tracked"
        ),
    )
    async def apply_inventory_outcomes(batch: PartitionBatch[InventoryMessage]) -> None:
        outcomes = [to_outcome(message) for message in batch.messages]
        try:
            report = await executor.run(
                app.apply_inventory_outcomes,
                stream_name(batch.topic, batch.partition, app.tracking_epoch),
                outcomes,
                batch.next_offset - 1,
                batch.continues_from,
            )
        except PositionMoved as moved:
            raise OffsetsMoved(str(moved)) from moved
        if report.payments_due:
            on_payments_due()
        unknown = {outcome.offset for outcome in report.unknown_bookings}
        for message in batch.messages:
            if message.offset in unknown:
                with message.logging_context():
                    # Normal: a hold asked for over HTTP is announced while its booking is
                    # being stored, or for a booking whose commit failed (swept by inventory).
                    logger.debug(
                        "inventory outcome for an unknown booking",
                        extra={"offset": message.offset, "partition": message.partition},
                    )
        if report.applied or report.duplicates:
            logger.info(
                "inventory outcomes applied",
                extra={
                    "partition": batch.partition,
                    "applied": report.applied,
                    "duplicates": report.duplicates,
                    "ignored": report.ignored,
                },
            )

    return apply_inventory_outcomes
