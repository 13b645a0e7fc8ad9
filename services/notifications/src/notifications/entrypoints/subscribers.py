"""The Kafka subscriber: booking, catalog and inventory facts (consumer group `notifications`).

Each partition batch is recorded by the use case in one transaction with its next offset:
customers and event details the mails need, and one outbox row per notice. Decoding,
dead letters, retries and positions are the kit's runtime's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from notifications.adapters.metrics import NOTICES_QUEUED
from notifications.application.ports import PositionMoved
from notifications.application.record_facts import Fact, RecordFacts
from notifications.settings import NotificationsSettings
from service_kit.kafka.messages import PartitionBatch
from service_kit.kafka.positions import OffsetsMoved, OffsetStore
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka.subscription import Subscription
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import decode_message


def subscribe(
    runtime: KafkaRuntime,
    settings: NotificationsSettings,
    record_facts: Callable[[], RecordFacts],
    stored_offsets: OffsetStore,
    after_commit: Callable[[], None],
) -> Subscription[Fact]:
    """Registers `notice_facts`; `record_facts` gives the use case once the service has
    connected (the subscription is declared before, so the AsyncAPI document shows it)."""

    @runtime.subscriber(
        *settings.consumed_topics,
        group=settings.group_id(settings.consumer_group),
        decode=decode_message,
        offsets=stored_offsets,
        message_type=EventEnvelope,
        description=(
            "Booking facts (booking.confirmed, booking.cancelled, booking.payment_refunded make "
            "a mail each; booking.requested and booking.confirmed name the customer) and "
            "catalog facts (event names, start times, ticket types for the mails), "
            "booking.expired (the hold expired) and the waitlist's inventory facts "
            "(inventory.waitlist_offer_made: the offer; inventory.waitlist_offer_ended with "
            "outcome expired: the offer expired; other inventory facts are skipped)"
        ),
    )
    async def notice_facts(batch: PartitionBatch[Fact]) -> None:
        context = (
            batch.messages[0].logging_context() if batch.messages else contextlib.nullcontext()
        )
        with context:
            try:
                recorded = await record_facts()(
                    [message.body for message in batch.messages],
                    topic=batch.topic,
                    partition=batch.partition,
                    next_offset=batch.next_offset,
                    continues_from=batch.continues_from,
                )
            except PositionMoved as moved:
                raise OffsetsMoved(str(moved)) from moved
        for kind in recorded.new_notices:
            NOTICES_QUEUED.labels(kind=kind.value).inc()
        if recorded.new_notices:
            after_commit()

    return notice_facts
