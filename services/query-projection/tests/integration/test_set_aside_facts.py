"""Facts the event store no longer holds after its restore, set aside by booking-command's
reconciliation: left out when read again (as a rebuild reads them), while the event store's
own facts, older or newer, still apply; the routes take booking-command's token only."""

from __future__ import annotations

from uuid import uuid4

import pytest

from query_projection.adapters.postgres_reconciliation import PostgresReconciliation
from query_projection.adapters.postgres_schema import create_generation
from query_projection.application.apply_batch import ApplyBatch
from query_projection.application.reconciliation import Reconciliation, load_set_aside
from query_projection.domain.set_aside import SetAside, SetAsideFacts
from service_kit.internal_auth import InternalTokenIssuer, generate_key_pair
from service_kit.kafka.messages import PartitionBatch
from ticketing_contracts.events import BookingStatus

from .conftest import internal_token, running_app
from .test_read_models import catalog

pytestmark = pytest.mark.integration


async def test_a_set_aside_fact_is_left_out_when_read_again_and_the_stores_own_apply(
    harness, scenario
) -> None:
    _, event_id, (ticket_type_id,) = await catalog(harness, scenario)
    requested = scenario.booking_requested(event_id, ticket_type_id)
    lost_confirmation = scenario.booking_confirmed(requested)
    booking_id = scenario.subject_id(requested)
    history = await harness.publish(requested, lost_confirmation)
    facts = SetAsideFacts()
    harness.apply_batch = ApplyBatch(harness.store, harness.hot, facts)
    reconciliation = Reconciliation(PostgresReconciliation(harness.pool), facts)

    # The restored event store holds the request, not the confirmation.
    await reconciliation.set_aside_facts(
        [SetAside(booking_id, frozenset({requested.event_id}), lost_confirmation.occurred_at)]
    )
    # A rebuild reads every fact again into a new generation.
    generation = await create_generation(harness.pool)
    for message in history:
        await harness.apply_batch(
            PartitionBatch(message.topic, message.partition, [message], message.offset + 1),
            generation=generation,
            must_be_active=False,
        )

    async def status_in(generation_number: int) -> str:
        row = await harness.pool.fetchval(
            f"SELECT status FROM rm_{generation_number}.bookings WHERE booking_id = $1",  # noqa: S608
            booking_id,
        )
        return str(row)

    assert await status_in(generation) == BookingStatus.PENDING.value
    # What the restored store records after the reconciliation applies as usual.
    expired = scenario.booking_expired(requested)
    assert expired.occurred_at > lost_confirmation.occurred_at
    [message] = harness.log.messages([expired])
    await harness.apply_batch(
        PartitionBatch(message.topic, message.partition, [message], message.offset + 1),
        generation=generation,
        must_be_active=False,
    )
    assert await status_in(generation) == BookingStatus.EXPIRED.value

    # A projection started later (or the rebuild command) loads what was set aside.
    loaded = await load_set_aside(PostgresReconciliation(harness.pool), SetAsideFacts())
    assert len(loaded) == 1


async def test_only_booking_commands_token_reaches_the_reconciliation_routes(
    settings_factory,
) -> None:
    private, public = generate_key_pair()
    settings = await settings_factory(trusted_service_keys=f"booking-command={public}")
    booking_command = InternalTokenIssuer.from_text(private, issuer="booking-command")
    as_booking_command = {
        "Authorization": booking_command.service_authorization("query-projection")
    }
    body = {
        "facts": [
            {
                "subject": str(uuid4()),
                "held_event_ids": [],
                "recorded_until": "2030-01-01T00:00:00Z",
            }
        ]
    }
    async with running_app(settings) as client:
        assert (await client.get("/internal/v1/reconciliation/events")).status_code == 403
        as_gateway = internal_token("gateway", "service")
        refused = await client.put(
            "/internal/v1/reconciliation/set-aside", json=body, headers=as_gateway
        )
        assert refused.status_code == 403

        events = await client.get("/internal/v1/reconciliation/events", headers=as_booking_command)
        assert events.status_code == 200, events.text
        assert events.json() == {"event_ids": [], "highest_position": None}
        unknown = await client.get(
            f"/internal/v1/reconciliation/events/{uuid4()}", headers=as_booking_command
        )
        assert unknown.status_code == 404
        set_aside = await client.put(
            "/internal/v1/reconciliation/set-aside", json=body, headers=as_booking_command
        )
        assert (set_aside.status_code, set_aside.json()) == (200, {"set_aside": 1})
        empty = await client.put(
            "/internal/v1/reconciliation/set-aside", json={"facts": []}, headers=as_booking_command
        )
        assert empty.status_code == 422
