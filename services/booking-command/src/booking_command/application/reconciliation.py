"""The reconciliation after a restore of the event store (`python -m booking_command
reconcile`): reads what the event store, inventory, the read models and the payment
provider hold, compares them (`domain.reconciliation`), repairs what the event store can
tell (with `repair`), refunds lost payments when a person asks for it, and reports the rest.

Repairs, in order: the store's positions move past those the read models applied; inventory
releases the tickets of bookings the store does not hold (after booking-command has said so
for good); the read models set aside the facts the store no longer holds, which the next
rebuild of the read models leaves out.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from booking_command.application.ports import (
    InventoryReconciliation,
    LedgerEntry,
    PaymentLedger,
    PaymentRequestRefused,
    PaymentUnavailable,
    ReadModelReconciliation,
    ReconciliationUnavailable,
)
from booking_command.domain.reconciliation import (
    Comparison,
    HeldBooking,
    Holdings,
    Kind,
    Payment,
    Repair,
    ShownBooking,
    ShownFacts,
    StoredBooking,
    StoredFacts,
    TicketCount,
    TicketKey,
    compare,
)
from ticketing_contracts.reconciliation import SetAsideFacts

REBUILD = "python -m query_projection rebuild"


class StoredBookings(Protocol):
    async def event_ids(self) -> list[UUID]: ...

    async def position(self) -> int: ...

    async def advance_positions(self, past: int) -> int: ...

    async def bookings_of(self, event_id: UUID) -> list[StoredBooking]: ...

    async def bookings(self, booking_ids: Sequence[UUID]) -> list[StoredBooking]: ...

    async def catalog_event(self, event_id: UUID) -> StoredFacts | None: ...


@dataclass
class ReconciliationReport:
    started_at: datetime
    comparison: Comparison
    events: list[UUID]
    repaired: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return self.comparison.consistent and not self.errors

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = defaultdict(int)
        for finding in self.comparison.findings:
            found[finding.kind.value] += 1
        return dict(found)

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "consistent": self.consistent,
            "events": [str(event_id) for event_id in self.events],
            "checked": self.comparison.checked,
            "findings_by_kind": self.counts(),
            "findings": [finding.to_json() for finding in self.comparison.findings],
            "repaired": self.repaired,
            "needs_a_person": [
                {"subject": finding.subject, "kind": finding.kind.value, "action": finding.action}
                for finding in self.comparison.for_a_person
            ],
            "errors": self.errors,
            "next_steps": self.next_steps,
        }


class Reconcile:
    def __init__(
        self,
        store: StoredBookings,
        inventory: InventoryReconciliation,
        read_models: ReadModelReconciliation,
        provider: PaymentLedger,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._inventory = inventory
        self._read_models = read_models
        self._provider = provider
        self._clock = clock

    async def __call__(
        self,
        *,
        repair: bool = False,
        refund_lost_payments: bool = False,
        only_events: Sequence[UUID] = (),
    ) -> ReconciliationReport:
        # Every fact recorded by now is either held by the store (read below) or lost.
        started_at = self._clock()
        holdings, events = await self._holdings(only_events)
        report = ReconciliationReport(started_at, compare(holdings), events)
        if repair:
            await self._repair(report, holdings)
        if refund_lost_payments:
            await self._refund_lost_payments(report, holdings)
        report.next_steps = _next_steps(report, repaired=repair)
        return report

    async def _holdings(self, only_events: Sequence[UUID]) -> tuple[Holdings, list[UUID]]:
        read_model_events = await self._read_models.events()
        if only_events:
            events = list(dict.fromkeys(only_events))
        else:
            known = [
                *await self._store.event_ids(),
                *await self._inventory.event_ids(),
                *read_model_events.event_ids,
            ]
            events = sorted(set(known), key=str)
        stored: dict[UUID, StoredBooking] = {}
        held: dict[UUID, HeldBooking] = {}
        shown: dict[UUID, ShownBooking] = {}
        inventory_tickets: dict[TicketKey, TicketCount] = {}
        read_model_tickets: dict[TicketKey, TicketCount] = {}
        stored_events: dict[UUID, StoredFacts] = {}
        shown_events: dict[UUID, ShownFacts] = {}
        for event_id in events:
            in_store = await self._store.catalog_event(event_id)
            if in_store is not None:
                stored_events[event_id] = in_store
            for booking in await self._store.bookings_of(event_id):
                stored[booking.booking_id] = booking
            at_inventory, in_read_models = await asyncio.gather(
                self._inventory.event(event_id), self._read_models.event(event_id)
            )
            if at_inventory is not None:
                for count in at_inventory.ticket_types:
                    inventory_tickets[(event_id, count.ticket_type_id)] = TicketCount(
                        count.quantity, count.reserved, count.sold
                    )
                for item in at_inventory.bookings:
                    held[item.booking_id] = HeldBooking(
                        item.booking_id, event_id, item.ticket_type_id, item.quantity, item.state
                    )
            if in_read_models is not None:
                if in_read_models.version is not None:
                    shown_events[event_id] = ShownFacts(
                        event_id, in_read_models.version, in_read_models.updated_at
                    )
                for count in in_read_models.ticket_types:
                    read_model_tickets[(event_id, count.ticket_type_id)] = TicketCount(
                        count.quantity, count.reserved, count.sold
                    )
                for row in in_read_models.bookings:
                    shown[row.booking_id] = ShownBooking(
                        row.booking_id,
                        event_id,
                        row.ticket_type_id,
                        row.quantity,
                        row.status,
                        row.version,
                        row.payment_status,
                        row.payment_reference,
                        row.customer_email,
                        row.total_price,
                        row.currency,
                    )
        payments = await self._payments(stored, held, shown, scoped=bool(only_events))
        holdings = Holdings(
            stored=stored,
            held=held,
            shown=shown,
            payments=payments,
            inventory_tickets=inventory_tickets,
            read_model_tickets=read_model_tickets,
            store_position=await self._store.position(),
            read_model_position=read_model_events.highest_position,
            stored_events=stored_events,
            shown_events=shown_events,
        )
        return holdings, events

    async def _payments(
        self,
        stored: dict[UUID, StoredBooking],
        held: dict[UUID, HeldBooking],
        shown: dict[UUID, ShownBooking],
        *,
        scoped: bool,
    ) -> dict[UUID, list[Payment]]:
        known = set(stored) | set(held) | set(shown)
        by_booking: dict[UUID, list[Payment]] = defaultdict(list)
        for entry in await self._provider.ledger():
            if entry.booking_id is None or (scoped and entry.booking_id not in known):
                continue
            by_booking[entry.booking_id].append(_payment(entry))
        # A charge of a booking none of the events looked at lists: the store may hold it.
        unlisted = [booking_id for booking_id in by_booking if booking_id not in known]
        for booking in await self._store.bookings(unlisted):
            stored[booking.booking_id] = booking
        return dict(by_booking)

    async def _repair(self, report: ReconciliationReport, holdings: Holdings) -> None:
        comparison = report.comparison
        if comparison.needing(Repair.ADVANCE_POSITIONS):
            assert holdings.read_model_position is not None
            newest = await self._store.advance_positions(holdings.read_model_position)
            report.repaired["positions_advanced_to"] = newest
        # A booking stored since the event store was read is no longer lost.
        lost = {UUID(finding.subject) for finding in comparison.of_kind(Kind.NOT_IN_EVENT_STORE)}
        stored_since = {booking.booking_id for booking in await self._store.bookings(list(lost))}
        to_release = [
            UUID(finding.subject)
            for finding in comparison.needing(Repair.RELEASE_AT_INVENTORY)
            if UUID(finding.subject) not in stored_since
        ]
        if to_release:
            try:
                releases = await self._inventory.release(to_release)
            except ReconciliationUnavailable as error:
                report.errors.append(f"inventory released nothing: {error}")
            else:
                report.repaired["released_at_inventory"] = [str(b) for b in releases.released]
                if releases.stored:
                    report.errors.append(
                        f"booking-command stores {len(releases.stored)} of them after all "
                        "(stored since this reconciliation read the event store): run it again"
                    )
        facts = [
            SetAsideFacts(
                subject=UUID(finding.subject),
                held_event_ids=sorted(holdings.held_event_ids(UUID(finding.subject)), key=str),
                recorded_until=report.started_at,
            )
            for finding in comparison.needing(Repair.SET_ASIDE_IN_READ_MODELS)
            if UUID(finding.subject) not in stored_since
        ]
        if facts:
            try:
                count = await self._read_models.set_aside(facts)
            except ReconciliationUnavailable as error:
                report.errors.append(f"the read models set nothing aside: {error}")
            else:
                report.repaired["set_aside_in_read_models"] = count

    async def _refund_lost_payments(self, report: ReconciliationReport, holdings: Holdings) -> None:
        refunded: list[dict[str, Any]] = []
        for finding in report.comparison.needing(Repair.REFUND_LOST_PAYMENT):
            for payment in holdings.payments.get(UUID(finding.subject), []):
                try:
                    if payment.kept > 0:
                        refund = await self._provider.refund(
                            payment.intent_id,
                            amount=payment.kept,
                            idempotency_key=f"reconciliation-{payment.intent_id}-refund",
                        )
                        refunded.append(
                            {
                                "intent": payment.intent_id,
                                "refund": refund.id,
                                "amount": refund.amount,
                            }
                        )
                    elif payment.authorised:
                        await self._provider.cancel(
                            payment.intent_id,
                            idempotency_key=f"reconciliation-{payment.intent_id}-cancel",
                        )
                        refunded.append({"intent": payment.intent_id, "cancelled": True})
                except (PaymentRequestRefused, PaymentUnavailable) as error:
                    report.errors.append(f"payment {payment.intent_id}: {error}")
        report.repaired["lost_payments_refunded"] = refunded


def _payment(entry: LedgerEntry) -> Payment:
    assert entry.booking_id is not None
    return Payment(
        entry.intent_id,
        entry.booking_id,
        entry.status,
        entry.amount,
        entry.amount_received,
        entry.amount_refunded,
        entry.currency,
    )


def _next_steps(report: ReconciliationReport, *, repaired: bool) -> list[str]:
    comparison = report.comparison
    steps: list[str] = []
    repairable = [finding for finding in comparison.findings if finding.repairs]
    if repairable and not repaired:
        steps.append("run it again with --repair to make the repairs listed in `repairs`")
    if repaired and comparison.needing(Repair.SET_ASIDE_IN_READ_MODELS):
        steps.append(
            f"rebuild the read models (`{REBUILD}` where query-projection runs): the "
            "rebuild leaves out the facts set aside"
        )
    if comparison.for_a_person:
        steps.append("a person acts on each entry of `needs_a_person`")
    if comparison.of_kind(Kind.SETTLING) or repaired:
        steps.append(
            "run the reconciliation again once the platform has settled: it should "
            "find nothing but what a person still has to do"
        )
    return steps
