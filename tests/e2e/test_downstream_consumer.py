"""A downstream consumer (email, accounting, ...) follows bookings on the public topic."""

import asyncio
import time
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from local_infra.stack_state import StackInfo

from .booking_topic import Published, booking_topic, by_booking, decode
from .platform_api import book, published_show, register_fan, wait_for_status
from .stack_helpers import admin_headers

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def once_per_ce_id(messages: list[Published]) -> list[Published]:
    """What a downstream consumer should do: delivery is at least once (a relay retry or a
    broker rebuild redelivers an event with the same ce_id), so keep each ce_id once."""
    first: dict[str, Published] = {}
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        first.setdefault(message.event_id, message)
    return list(first.values())


async def test_a_downstream_consumer_sees_each_booking_lifecycle_in_order_with_its_correlation_id(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    # Its own group, from the earliest offset: joining takes seconds on this broker, and
    # nothing published meanwhile may be missed.
    consumer = AIOKafkaConsumer(
        booking_topic(running_stack.topic_prefix),
        bootstrap_servers=running_stack.kafka_bootstrap_servers,
        group_id=f"accounting-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        admin = await admin_headers(client, running_stack)
        show = await published_show(client, admin, {"Stalls": 20})
        stalls = show.ticket_type("Stalls")
        fan = await register_fan(client)
        correlations = {
            "kept": f"web-checkout-{uuid.uuid4().hex}",
            "cancelled": f"web-checkout-{uuid.uuid4().hex}",
        }
        kept = await book(
            client, fan.headers, show.event_id, stalls, 2, correlation_id=correlations["kept"]
        )
        cancelled = await book(
            client, fan.headers, show.event_id, stalls, 1, correlation_id=correlations["cancelled"]
        )
        for booking_id in (kept, cancelled):
            await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"})
        cancel_correlation = f"support-desk-{uuid.uuid4().hex}"
        answer = await client.post(
            f"/api/v1/bookings/{cancelled}/cancel",
            headers={**fan.headers, "X-Correlation-ID": cancel_correlation},
        )
        assert answer.status_code == 200, answer.text

        # The capture that confirms a booking travels in its confirmation (version 2).
        expected = {
            kept: ["booking.requested", "booking.confirmed"],
            cancelled: [
                "booking.requested",
                "booking.confirmed",
                "booking.cancelled",
                "booking.payment_refunded",
            ],
        }
        seen: list[Published] = []
        deadline = time.monotonic() + 45
        while True:
            lifecycles = {
                booking_id: [message.type for message in messages]
                for booking_id, messages in by_booking(once_per_ce_id(seen)).items()
                if booking_id in expected
            }
            if lifecycles == expected or time.monotonic() > deadline:
                break
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            seen.extend(decode(record) for records in batches.values() for record in records)
            await asyncio.sleep(0)
    finally:
        await consumer.stop()

    assert lifecycles == expected
    messages = by_booking(once_per_ce_id(seen))
    assert len({message.partition for message in messages[kept] + messages[cancelled]}) == 1, (
        "a show's bookings share one partition (keyed by the event id)"
    )
    for booking_id, name in ((kept, "kept"), (cancelled, "cancelled")):
        # Requested and confirmed (with its capture) belong to the checkout's flow.
        for message in messages[booking_id][:2]:
            assert message.correlation_header == correlations[name], message
            assert message.correlation_id == correlations[name], message
        # Accounting reads the captured payment from the confirmation.
        assert (messages[booking_id][1].provider_reference or "").startswith("pi_")
    # The refund names the payment the confirmation carried.
    assert messages[cancelled][3].provider_reference == messages[cancelled][1].provider_reference
    # The cancellation and the refund it makes due belong to the support desk's flow.
    for message in messages[cancelled][2:]:
        assert message.correlation_header == cancel_correlation, message
