"""The reconciliation use case against fakes of the event store, inventory, the read models
and the provider: what it repairs, and the money it moves only when a person asks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID, uuid4

from booking_command.application.ports import LedgerEntry, PaymentIntent, Refund
from booking_command.application.reconciliation import Reconcile
from booking_command.domain.reconciliation import StoredBooking, StoredFacts
from ticketing_contracts.reconciliation import (
    EventIds,
    InventoryBooking,
    InventoryEvent,
    ReadModelBooking,
    ReadModelEvent,
    Releases,
    SetAsideFacts,
    TicketTypeCount,
)

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
EVENT, STALLS = uuid4(), uuid4()


@dataclass
class FakeStore:
    stored: list[StoredBooking] = field(default_factory=list)
    newest: int = 50
    advanced_past: int | None = None
    # Stored after the reconciliation read the event's bookings (a booking racing it).
    stored_since: list[StoredBooking] = field(default_factory=list)

    async def event_ids(self) -> list[UUID]:
        return [EVENT]

    async def position(self) -> int:
        return self.newest

    async def advance_positions(self, past: int) -> int:
        self.advanced_past = past
        self.newest = max(self.newest, past)
        return self.newest

    async def bookings_of(self, event_id: UUID) -> list[StoredBooking]:
        return [booking for booking in self.stored if booking.event_id == event_id]

    async def bookings(self, booking_ids: Sequence[UUID]) -> list[StoredBooking]:
        every = [*self.stored, *self.stored_since]
        return [booking for booking in every if booking.booking_id in booking_ids]

    async def catalog_event(self, event_id: UUID) -> StoredFacts | None:
        return None


@dataclass
class FakeInventory:
    bookings: list[InventoryBooking] = field(default_factory=list)
    released: list[UUID] = field(default_factory=list)

    async def event_ids(self) -> list[UUID]:
        return [EVENT]

    async def event(self, event_id: UUID) -> InventoryEvent | None:
        sold = sum(b.quantity for b in self.bookings if b.state == "sold")
        return InventoryEvent(
            event_id=event_id,
            status="on_sale",
            ticket_types=[
                TicketTypeCount(ticket_type_id=STALLS, quantity=10, reserved=0, sold=sold)
            ],
            bookings=self.bookings,
        )

    async def release(self, booking_ids: Sequence[UUID]) -> Releases:
        self.released.extend(booking_ids)
        return Releases(released=list(booking_ids), stored=[], taking_no_tickets=[])

    async def aclose(self) -> None:
        return None


@dataclass
class FakeReadModels:
    bookings: list[ReadModelBooking] = field(default_factory=list)
    highest_position: int = 50
    set_aside_facts: list[SetAsideFacts] = field(default_factory=list)

    async def events(self) -> EventIds:
        return EventIds(event_ids=[EVENT], highest_position=self.highest_position)

    async def event(self, event_id: UUID) -> ReadModelEvent | None:
        sold = sum(b.quantity for b in self.bookings if b.status == "CONFIRMED")
        return ReadModelEvent(
            event_id=event_id,
            ticket_types=[
                TicketTypeCount(ticket_type_id=STALLS, quantity=10, reserved=0, sold=sold)
            ],
            bookings=self.bookings,
        )

    async def set_aside(self, facts: Sequence[SetAsideFacts]) -> int:
        self.set_aside_facts.extend(facts)
        return len(facts)

    async def aclose(self) -> None:
        return None


@dataclass
class FakeProvider:
    entries: list[LedgerEntry] = field(default_factory=list)
    refunds: list[tuple[str, int, str]] = field(default_factory=list)

    async def ledger(self) -> list[LedgerEntry]:
        return self.entries

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> Refund:
        self.refunds.append((intent_id, amount, idempotency_key))
        return Refund(id=f"re_{intent_id}", amount=amount)

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> PaymentIntent:
        raise AssertionError("nothing is authorised in these tests")


@dataclass
class Platform:
    store: FakeStore
    inventory: FakeInventory
    read_models: FakeReadModels
    provider: FakeProvider

    def reconcile(self) -> Reconcile:
        return Reconcile(
            self.store, self.inventory, self.read_models, self.provider, clock=lambda: NOW
        )


def confirmed_at_inventory_read_models_and_provider(booking_id: UUID) -> Platform:
    """A booking made after the backup: every side but the restored event store has it."""
    return Platform(
        FakeStore(),
        FakeInventory(
            [
                InventoryBooking(
                    booking_id=booking_id, ticket_type_id=STALLS, quantity=2, state="sold"
                )
            ]
        ),
        FakeReadModels(
            [
                ReadModelBooking(
                    booking_id=booking_id,
                    ticket_type_id=STALLS,
                    quantity=2,
                    status="CONFIRMED",
                    version=3,
                    customer_email="zoe@example.com",
                )
            ]
        ),
        FakeProvider([LedgerEntry("pi_lost", booking_id, "succeeded", 6000, 6000, 0, "eur")]),
    )


async def test_finding_alone_repairs_nothing_and_moves_no_money() -> None:
    lost = uuid4()
    platform = confirmed_at_inventory_read_models_and_provider(lost)

    report = await platform.reconcile()()

    assert not report.consistent
    assert report.counts()["booking_not_in_event_store"] == 1
    assert (platform.inventory.released, platform.read_models.set_aside_facts) == ([], [])
    assert platform.provider.refunds == []
    assert any("--repair" in step for step in report.next_steps)


async def test_repair_releases_the_lost_bookings_tickets_and_sets_its_facts_aside() -> None:
    lost = uuid4()
    platform = confirmed_at_inventory_read_models_and_provider(lost)

    report = await platform.reconcile()(repair=True)

    assert platform.inventory.released == [lost]
    [facts] = platform.read_models.set_aside_facts
    assert (facts.subject, facts.held_event_ids, facts.recorded_until) == (lost, [], NOW)
    assert platform.provider.refunds == [], "money moves only when a person asks"
    assert report.repaired["released_at_inventory"] == [str(lost)]
    assert any("query_projection rebuild" in step for step in report.next_steps)


async def test_a_person_asking_refunds_what_the_provider_keeps_of_a_lost_booking() -> None:
    lost = uuid4()
    platform = confirmed_at_inventory_read_models_and_provider(lost)

    report = await platform.reconcile()(refund_lost_payments=True)

    assert platform.provider.refunds == [("pi_lost", 6000, "reconciliation-pi_lost-refund")]
    assert report.repaired["lost_payments_refunded"] == [
        {"intent": "pi_lost", "refund": "re_pi_lost", "amount": 6000}
    ]


async def test_a_booking_stored_since_the_store_was_read_is_not_released() -> None:
    lost = uuid4()
    platform = confirmed_at_inventory_read_models_and_provider(lost)
    platform.store.stored_since = [
        StoredBooking(
            lost, EVENT, STALLS, 2, "PENDING", 1, "pending", None, 6000, "EUR", True, frozenset()
        )
    ]

    await platform.reconcile()(repair=True)

    assert platform.inventory.released == []
    assert platform.read_models.set_aside_facts == []


async def test_positions_are_advanced_past_what_the_read_models_applied() -> None:
    platform = Platform(
        FakeStore(newest=40), FakeInventory(), FakeReadModels(highest_position=90), FakeProvider()
    )

    report = await platform.reconcile()(repair=True)

    assert platform.store.advanced_past == 90
    assert report.repaired["positions_advanced_to"] == 90
