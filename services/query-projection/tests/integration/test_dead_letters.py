"""Poison messages on the real broker and PostgreSQL: dead-lettered, the partition moves on,
and the operator's re-drive applies them once the cause is fixed."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from query_projection.adapters.postgres_schema import in_schema
from service_kit.dead_letters import DeadLetterEntry, list_dead_letters
from service_kit.messaging import envelope_headers
from ticketing_contracts.events import encode_envelope

from .conftest import running_app
from .test_kafka_projection import JOIN_BUDGET_SECONDS, assigned, eventually

pytestmark = pytest.mark.integration

REFUSE_POISON_HALL = """
CREATE FUNCTION {s}.refuse_poison_hall() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'Poison Hall' THEN
        RAISE EXCEPTION 'venue % refused by an injected fault', NEW.venue_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison_hall BEFORE INSERT OR UPDATE ON {s}.venues
    FOR EACH ROW EXECUTE FUNCTION {s}.refuse_poison_hall();
"""
REMOVE_FAULT = "DROP TRIGGER refuse_poison_hall ON {s}.venues"


async def dead_letters_of(settings, count: int) -> list[DeadLetterEntry]:
    entries: list[DeadLetterEntry] = []

    async def arrived() -> bool:
        nonlocal entries
        entries = await list_dead_letters(
            settings.kafka_bootstrap_servers,
            settings.dead_letter_topic,
            consumer_group=settings.group_id(settings.consumer_group),
        )
        return len(entries) >= count

    await eventually(arrived, JOIN_BUDGET_SECONDS, f"{count} dead letter(s)")
    return entries


async def visible(api, venue) -> None:
    async def readable() -> bool:
        response = await api.get(
            f"/internal/v1/venues/{venue.subject}", params={"min_position": venue.position}
        )
        return response.status_code == 200

    await eventually(readable, JOIN_BUDGET_SECONDS, f"venue {venue.subject} readable")


async def test_a_nul_byte_in_correlation_id_is_dead_lettered_and_the_partition_moves_on(
    settings_factory, producer, scenario
):
    settings = await settings_factory()
    venue_id = scenario.venue_created().data["venue_id"]
    poisoned = json.loads(encode_envelope(scenario.venue_created(venue_id, name="Nul Hall")))
    poisoned["correlation_id"] = "req\x00-7"
    renamed = scenario.venue_updated(venue_id, name="Royal Hall")
    async with running_app(settings) as api:
        await assigned(api)
        await producer.kafka.send_and_wait(
            settings.catalog_topic, json.dumps(poisoned).encode(), key=str(venue_id).encode()
        )
        await producer(settings.kafka_topic_prefix, renamed)

        await visible(api, renamed)  # a later message of the same partition
        [letter] = await dead_letters_of(settings, 1)
    assert letter.original_topic == settings.catalog_topic
    assert letter.error.startswith("ContractViolation")
    assert "correlation_id" in letter.error


async def test_a_message_postgres_refuses_three_times_is_dead_lettered_then_redriven_once_fixed(
    settings_factory, producer, scenario
):
    settings = await settings_factory()
    refused = scenario.venue_created(name="Poison Hall")
    other = scenario.venue_created(name="Other Hall")
    same_partition = refused.subject.encode()
    async with running_app(settings) as api:
        pool = api.app.state.service.pool
        await pool.execute(in_schema(REFUSE_POISON_HALL, 1))
        await assigned(api)
        for venue in (refused, other):
            await producer.kafka.send_and_wait(
                settings.catalog_topic,
                encode_envelope(venue),
                key=same_partition,
                headers=envelope_headers(venue),
            )

        await visible(api, other)  # the partition went on past the refused message
        [letter] = await dead_letters_of(settings, 1)
        assert "refused by an injected fault" in letter.error
        assert (letter.original_topic, letter.original_offset) == (settings.catalog_topic, 0)

        await pool.execute(in_schema(REMOVE_FAULT, 1))
        redrive = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "query_projection",
            "dead-letters",
            "redrive",
            env={
                **os.environ,
                "ENVIRONMENT": "test",
                "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
                "INTERNAL_TOKEN_PUBLIC_KEY": settings.internal_token_public_key,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, errors = await redrive.communicate()
        assert redrive.returncode == 0, errors.decode()
        assert b"re-drove 1 dead letter(s)" in errors

        async def applied() -> bool:
            response = await api.get(f"/internal/v1/venues/{refused.subject}")
            return response.status_code == 200 and response.json()["name"] == "Poison Hall"

        await eventually(applied, JOIN_BUDGET_SECONDS, "the re-driven venue applied")
