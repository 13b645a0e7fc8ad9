"""After a restore of the event store: what the other services and the payment provider hold
that the event store does not say, and what each difference asks for.

The event store is the truth. A restore takes it back to its backup; inventory, the read
models and the provider keep what happened since. Each booking is compared as the four
hold it, each ticket type's counts too, and every difference becomes a finding: one the
platform repairs itself (release the tickets of a booking the store does not hold, set
aside the facts it no longer holds so a rebuild of the read models leaves them out,
advance the store's positions past those the read models saw), one that settles by itself
(a payment still due, a fact not yet applied: run the reconciliation again), or one that
needs a person (money: a capture with no booking is refunded, a booking the store confirms
whose payment was refunded is cancelled).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

CONFIRMED = "CONFIRMED"
PENDING = "PENDING"
# Inventory's states of a booking whose tickets it counts.
RESERVED = "reserved"
SOLD = "sold"
TAKING_TICKETS = frozenset({RESERVED, SOLD})
# The provider's status of an authorisation not captured yet.
AUTHORISED = "requires_capture"


class Kind(StrEnum):
    NOT_IN_EVENT_STORE = "booking_not_in_event_store"
    READ_MODEL_DIFFERS = "read_model_differs"
    CATALOG_DIFFERS = "event_differs"
    INVENTORY_DIFFERS = "inventory_differs"
    PAYMENT_DIFFERS = "payment_differs"
    TICKETS_DIFFER = "tickets_differ"
    POSITIONS_BEHIND = "positions_behind"
    SETTLING = "settling"


class Repair(StrEnum):
    RELEASE_AT_INVENTORY = "release_at_inventory"
    SET_ASIDE_IN_READ_MODELS = "set_aside_in_read_models"
    ADVANCE_POSITIONS = "advance_positions"
    REFUND_LOST_PAYMENT = "refund_lost_payment"
    """Money: made only when a person asks for it (`--refund-lost-payments`)."""


@dataclass(frozen=True)
class StoredBooking:
    """A booking as the event store holds it."""

    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    status: str
    published_version: int
    """The version of its last fact the read models see."""
    payment_status: str | None
    payment_reference: str | None
    total_minor: int
    currency: str
    payment_due: bool
    """A charge, cancellation or refund the payment worker has still to make."""
    held_event_ids: frozenset[UUID]
    """The ids of its published facts."""


@dataclass(frozen=True)
class StoredFacts:
    """An event (the concert) as the event store holds it: its published facts."""

    subject: UUID
    published_version: int
    recorded_at: datetime | None
    """When its last published fact was recorded."""
    held_event_ids: frozenset[UUID]


@dataclass(frozen=True)
class ShownFacts:
    """An event as the read models show it: the version and time of the newest fact."""

    subject: UUID
    version: int
    updated_at: datetime | None


@dataclass(frozen=True)
class HeldBooking:
    """A booking as inventory holds it."""

    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    state: str

    @property
    def takes_tickets(self) -> bool:
        return self.state in TAKING_TICKETS


@dataclass(frozen=True)
class ShownBooking:
    """A booking as the read models show it."""

    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    status: str
    version: int
    payment_status: str | None
    payment_reference: str | None
    customer_email: str | None
    total_price: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class Payment:
    """A payment intent in the provider's ledger (its booking from the intent's metadata)."""

    intent_id: str
    booking_id: UUID
    status: str
    amount: int
    amount_received: int
    amount_refunded: int
    currency: str

    @property
    def kept(self) -> int:
        """What the provider holds of the customer's money: captured, not refunded."""
        return self.amount_received - self.amount_refunded

    @property
    def authorised(self) -> bool:
        return self.status == AUTHORISED


@dataclass(frozen=True)
class TicketCount:
    quantity: int
    reserved: int
    sold: int


TicketKey = tuple[UUID, UUID]
"""(event id, ticket type id)."""


@dataclass(frozen=True)
class Holdings:
    """Everything one comparison looks at."""

    stored: Mapping[UUID, StoredBooking]
    held: Mapping[UUID, HeldBooking]
    shown: Mapping[UUID, ShownBooking]
    payments: Mapping[UUID, list[Payment]]
    """By booking id: every payment the provider holds for it."""
    inventory_tickets: Mapping[TicketKey, TicketCount]
    read_model_tickets: Mapping[TicketKey, TicketCount]
    store_position: int
    """The newest position (notification id) the event store gave out."""
    read_model_position: int | None
    """The highest event-store position the read models applied."""
    stored_events: Mapping[UUID, StoredFacts] = field(default_factory=dict)
    shown_events: Mapping[UUID, ShownFacts] = field(default_factory=dict)

    def held_event_ids(self, subject: UUID) -> frozenset[UUID]:
        """The ids of the facts the event store holds of a booking or an event."""
        booking = self.stored.get(subject)
        if booking is not None:
            return booking.held_event_ids
        event = self.stored_events.get(subject)
        return event.held_event_ids if event is not None else frozenset()


@dataclass(frozen=True)
class Finding:
    kind: Kind
    subject: str
    says: dict[str, Any]
    """What each side holds, in words and numbers."""
    detail: str
    repairs: tuple[Repair, ...] = ()
    """What the platform repairs itself (with `--repair`)."""
    action: str | None = None
    """What a person has to do; None: nothing."""
    event_id: UUID | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "event_id": str(self.event_id) if self.event_id else None,
            "says": self.says,
            "detail": self.detail,
            "repairs": [repair.value for repair in self.repairs],
            "action": self.action,
        }


@dataclass(frozen=True)
class Comparison:
    findings: list[Finding]
    checked: dict[str, int] = field(default_factory=dict)

    def of_kind(self, kind: Kind) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind is kind]

    def needing(self, repair: Repair) -> list[Finding]:
        return [finding for finding in self.findings if repair in finding.repairs]

    @property
    def for_a_person(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.action is not None]

    @property
    def consistent(self) -> bool:
        """Nothing left but what settles by itself."""
        return all(finding.kind is Kind.SETTLING for finding in self.findings)


def compare(holdings: Holdings) -> Comparison:
    findings: list[Finding] = []
    booking_ids = sorted(
        set(holdings.stored) | set(holdings.held) | set(holdings.shown) | set(holdings.payments),
        key=str,
    )
    for booking_id in booking_ids:
        stored = holdings.stored.get(booking_id)
        if stored is None:
            findings.extend(_not_in_event_store(booking_id, holdings))
        else:
            findings.extend(_stored_booking(stored, holdings))
    for event_id in sorted(holdings.shown_events, key=str):
        findings.extend(_catalog_event(event_id, holdings))
    findings.extend(_ticket_counts(holdings))
    findings.extend(_positions(holdings))
    return Comparison(
        findings,
        checked={
            "bookings_in_event_store": len(holdings.stored),
            "bookings_at_inventory": len(holdings.held),
            "bookings_in_read_models": len(holdings.shown),
            "payments_at_provider": sum(len(found) for found in holdings.payments.values()),
            "ticket_types": len(set(holdings.inventory_tickets) | set(holdings.read_model_tickets)),
            "events_in_event_store": len(holdings.stored_events),
        },
    )


def _says(booking_id: UUID, holdings: Holdings) -> dict[str, Any]:
    stored = holdings.stored.get(booking_id)
    held = holdings.held.get(booking_id)
    shown = holdings.shown.get(booking_id)
    return {
        "event_store": (
            {"status": stored.status, "version": stored.published_version} if stored else None
        ),
        "inventory": held.state if held else None,
        "read_models": {"status": shown.status, "version": shown.version} if shown else None,
        "provider": [
            {
                "intent": payment.intent_id,
                "status": payment.status,
                "captured": payment.amount_received,
                "refunded": payment.amount_refunded,
                "currency": payment.currency,
            }
            for payment in holdings.payments.get(booking_id, [])
        ],
    }


def _event_of(booking_id: UUID, holdings: Holdings) -> UUID | None:
    for side in (holdings.stored, holdings.held, holdings.shown):
        found = side.get(booking_id)
        if found is not None:
            return found.event_id
    return None


def _not_in_event_store(booking_id: UUID, holdings: Holdings) -> list[Finding]:
    """Made after the backup: the store lost it; the others and the provider did not."""
    held = holdings.held.get(booking_id)
    shown = holdings.shown.get(booking_id)
    payments = holdings.payments.get(booking_id, [])
    repairs: list[Repair] = []
    if held is not None and held.takes_tickets:
        repairs.append(Repair.RELEASE_AT_INVENTORY)
    if shown is not None:
        repairs.append(Repair.SET_ASIDE_IN_READ_MODELS)
    kept = [payment for payment in payments if payment.kept > 0]
    authorised = [payment for payment in payments if payment.authorised]
    action = None
    if kept or authorised:
        repairs.append(Repair.REFUND_LOST_PAYMENT)
        who = f" (customer {shown.customer_email})" if shown and shown.customer_email else ""
        steps = [
            f"refund {payment.kept} {payment.currency} of payment {payment.intent_id}"
            for payment in kept
        ] + [f"cancel the authorisation {payment.intent_id}" for payment in authorised]
        action = (
            f"{'; '.join(steps)}{who}: the booking is not in the event store "
            "(`reconcile --refund-lost-payments` does it), and tell the customer"
        )
    if not repairs:
        return []  # its tickets given back, out of the read models, its money returned
    return [
        Finding(
            Kind.NOT_IN_EVENT_STORE,
            str(booking_id),
            _says(booking_id, holdings),
            "made after the backup the event store was restored from: inventory, the read "
            "models or the provider know it, the event store does not",
            tuple(repairs),
            action,
            _event_of(booking_id, holdings),
        )
    ]


def _stored_booking(stored: StoredBooking, holdings: Holdings) -> list[Finding]:
    booking_id = stored.booking_id
    says = _says(booking_id, holdings)
    settling: list[str] = []
    findings: list[Finding] = []

    def finding(
        kind: Kind, detail: str, repairs: tuple[Repair, ...] = (), action: str | None = None
    ) -> None:
        findings.append(
            Finding(kind, str(booking_id), says, detail, repairs, action, stored.event_id)
        )

    shown = holdings.shown.get(booking_id)
    if shown is None or shown.version < stored.published_version:
        settling.append("the read models have not applied its last facts yet")
    elif shown.version > stored.published_version or shown.status != stored.status:
        finding(
            Kind.READ_MODEL_DIFFERS,
            f"the read models show it {shown.status} (version {shown.version}) from facts the "
            f"event store no longer holds; it holds {stored.status} (version "
            f"{stored.published_version})",
            (Repair.SET_ASIDE_IN_READ_MODELS,),
        )

    held = holdings.held.get(booking_id)
    expected = {CONFIRMED: SOLD, PENDING: RESERVED}.get(stored.status)
    state = held.state if held is not None else None
    # Inventory behind the store (a fact not applied yet), or ahead of a booking whose
    # payment the worker is still settling (the lost window's outcome is coming again).
    not_applied_yet = (
        (expected == SOLD and state == RESERVED)
        or (expected is None and state in TAKING_TICKETS)
        or (stored.payment_due and expected == RESERVED and state == SOLD)
    )
    if not_applied_yet:
        settling.append("inventory has not applied its last fact yet")
    elif expected is not None and state != expected:
        action = (
            "cancel the booking (its capture is refunded) or, if tickets are left, sell it "
            "its tickets again by hand"
            if stored.status == CONFIRMED
            else "wait for its hold to expire; if it does not, cancel it"
        )
        finding(
            Kind.INVENTORY_DIFFERS,
            f"the event store holds it {stored.status}, inventory {state or 'not at all'}: "
            "inventory gave its tickets back for a change the event store lost",
            action=action,
        )

    payments = holdings.payments.get(booking_id, [])
    if stored.payment_due:
        settling.append("its payment is still due at the payment worker")
    elif stored.status == CONFIRMED:
        kept = [payment.kept for payment in payments if payment.kept > 0]
        if kept != [stored.total_minor]:
            finding(
                Kind.PAYMENT_DIFFERS,
                f"the event store holds it CONFIRMED for {stored.total_minor} "
                f"{stored.currency}, the provider keeps {sum(kept)} of it "
                f"({len(payments)} payment(s))",
                action=(
                    "cancel the booking: its payment was refunded in a change the event store lost"
                    if sum(kept) == 0
                    else "refund what was charged twice, keeping one capture of the total"
                ),
            )
    else:
        leftover = [payment for payment in payments if payment.kept > 0 or payment.authorised]
        if leftover:
            finding(
                Kind.PAYMENT_DIFFERS,
                f"the event store holds it {stored.status}, yet the provider keeps "
                f"{sum(payment.kept for payment in leftover)} {stored.currency} of it or an "
                "authorisation",
                action="refund the capture or cancel the authorisation at the provider",
            )
    if settling and not findings:
        finding(Kind.SETTLING, "; ".join(settling))
    return findings


def _catalog_event(event_id: UUID, holdings: Holdings) -> list[Finding]:
    """An event's facts the read models show against those the store holds: the newest
    one's version and the moment it was recorded (the same fact has the same moment)."""
    shown = holdings.shown_events[event_id]
    stored = holdings.stored_events.get(event_id)
    says: dict[str, Any] = {
        "event_store": (
            {"version": stored.published_version, "recorded_at": _iso(stored.recorded_at)}
            if stored
            else None
        ),
        "read_models": {"version": shown.version, "updated_at": _iso(shown.updated_at)},
    }
    if stored is None:
        return [
            Finding(
                Kind.CATALOG_DIFFERS,
                str(event_id),
                says,
                "the read models show an event the event store does not hold (created after "
                "the backup)",
                (Repair.SET_ASIDE_IN_READ_MODELS,),
                "create it again if it should exist (its bookings are findings of their own)",
                event_id,
            )
        ]
    if shown.version < stored.published_version:
        return [
            Finding(
                Kind.SETTLING,
                str(event_id),
                says,
                "the read models have not applied its last facts yet",
                event_id=event_id,
            )
        ]
    if shown.version > stored.published_version or shown.updated_at != stored.recorded_at:
        return [
            Finding(
                Kind.CATALOG_DIFFERS,
                str(event_id),
                says,
                "the read models show the event from changes the event store no longer holds",
                (Repair.SET_ASIDE_IN_READ_MODELS,),
                "make again any change of the lost window that should stand (inventory keeps "
                "the stock of a ticket type added then)",
                event_id,
            )
        ]
    return []


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _tickets_of(bookings: Iterable[StoredBooking]) -> dict[TicketKey, TicketCount]:
    sold: dict[TicketKey, int] = defaultdict(int)
    reserved: dict[TicketKey, int] = defaultdict(int)
    for booking in bookings:
        key = (booking.event_id, booking.ticket_type_id)
        if booking.status == CONFIRMED:
            sold[key] += booking.quantity
        elif booking.status == PENDING:
            reserved[key] += booking.quantity
    return {
        key: TicketCount(quantity=0, reserved=reserved.get(key, 0), sold=sold.get(key, 0))
        for key in set(sold) | set(reserved)
    }


def _ticket_counts(holdings: Holdings) -> list[Finding]:
    """Tickets sold per ticket type: the event store's CONFIRMED bookings, inventory's
    stock and the read models' availability must say the same."""
    store = _tickets_of(holdings.stored.values())
    findings = []
    keys = sorted(
        set(store) | set(holdings.inventory_tickets) | set(holdings.read_model_tickets), key=str
    )
    for key in keys:
        confirmed = store.get(key, TicketCount(0, 0, 0)).sold
        inventory = holdings.inventory_tickets.get(key)
        shown = holdings.read_model_tickets.get(key)
        sold_at_inventory = inventory.sold if inventory else 0
        sold_shown = shown.sold if shown else 0
        if confirmed == sold_at_inventory == sold_shown:
            continue
        event_id, ticket_type_id = key
        findings.append(
            Finding(
                Kind.TICKETS_DIFFER,
                str(ticket_type_id),
                {
                    "event_store_confirmed": confirmed,
                    "inventory_sold": sold_at_inventory,
                    "read_models_sold": sold_shown,
                },
                "tickets sold differ: once the bookings above are repaired and settled, and "
                "the read models rebuilt, they agree (run the reconciliation again)",
                event_id=event_id,
            )
        )
    return findings


def _positions(holdings: Holdings) -> list[Finding]:
    seen = holdings.read_model_position
    if seen is None or seen <= holdings.store_position:
        return []
    return [
        Finding(
            Kind.POSITIONS_BEHIND,
            "event-store positions",
            {"event_store": holdings.store_position, "read_models": seen},
            f"the read models applied positions up to {seen}, the restored event store is at "
            f"{holdings.store_position}: a write would be answered with a position they "
            "report reaching before they applied it",
            (Repair.ADVANCE_POSITIONS,),
        )
    ]
