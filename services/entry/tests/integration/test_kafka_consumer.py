"""The running service on the real broker: facts published to the catalog and booking
topics become tickets, and a message that is not a fact does not hold its partition up."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from entry.bootstrap import build_app
from service_kit.messaging import envelope_headers
from ticketing_contracts.events import encode_envelope

from ..conftest import booking_id_of
from .conftest import as_admin

pytestmark = pytest.mark.integration

WITHIN_SECONDS = 60.0


async def test_a_confirmation_published_on_kafka_is_issued_even_after_a_poison_message(
    entry, facts, infrastructure
) -> None:
    app = build_app(entry.settings)
    event = facts.event_created(name="Live on the Broker")
    booking = facts.confirmed(event, quantity=2)
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            key = entry.log.key_of(booking)
            booking_topic = entry.settings.booking_topic
            await producer.send_and_wait(booking_topic, b"not a fact", key=key)
            for envelope in (event, booking):
                await producer.send_and_wait(
                    entry.settings.topic(entry.log.topic_of(envelope)),
                    encode_envelope(envelope),
                    key=entry.log.key_of(envelope),
                    headers=envelope_headers(envelope),
                )
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://entry", headers=as_admin()
            ) as client:
                answer = await eventually_ok(
                    client, f"/internal/v1/bookings/{booking_id_of(booking)}/tickets"
                )
    finally:
        await producer.stop()

    assert answer["event_name"] == "Live on the Broker"
    assert len(answer["tickets"]) == 2


async def eventually_ok(client: httpx.AsyncClient, path: str) -> dict:
    deadline = time.monotonic() + WITHIN_SECONDS
    while True:
        response = await client.get(path)
        if response.status_code == 200:
            return response.json()
        assert time.monotonic() < deadline, f"{path}: still {response.status_code} {response.text}"
        await asyncio.sleep(0.2)
