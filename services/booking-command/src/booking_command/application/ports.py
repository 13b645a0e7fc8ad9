"""What the application needs from the event store beyond events and tracking, from
inventory and from the payment provider.

The recorder writes idempotency records, booking holds and a consumer's tracking
record in the same transaction as the domain events they belong to: the application
passes them as one `RowsWithEvents` through eventsourcing's public
`Application.save(*aggregates, **kwargs)`, which hands its keyword arguments on to
`recorder.insert_events(stored_events, **kwargs)`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError, ProcessRecorder, StoredEvent, Tracking

from ticketing_contracts.reconciliation import (
    EventIds,
    InventoryEvent,
    ReadModelEvent,
    Releases,
    SetAsideFacts,
)
from ticketing_contracts.waitlist import TicketTypeChangeAnswer, TicketTypeChangeQuestion


class PositionMoved(Exception):
    """The partition's tracked position is not the one the batch was read from (a broker
    recovery reset it, another replica moved it): read the positions again, change nothing."""


class IdempotencyKeyInUse(Exception):
    """Another request stored this key first; its record decides the answer."""


@dataclass(frozen=True)
class IdempotencyRecord:
    scope: str
    key: str
    fingerprint: str
    status_code: int
    body: dict[str, Any]
    aggregate_id: UUID
    aggregate_version: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class HoldChange:
    """A PENDING booking's hold starts (with its expiry) or ends (`expires_at` None)."""

    booking_id: UUID
    expires_at: datetime | None


@dataclass(frozen=True)
class PaymentDueChange:
    """A booking's payment becomes due (`due` True) or is settled: captured and confirmed,
    declined, or refunded or found uncharged after the booking ended otherwise."""

    booking_id: UUID
    due: bool
    correlation_id: str = ""
    # The request's trace, which the payment worker continues (None: tracing was off).
    traceparent: str | None = None


@dataclass(frozen=True)
class DuePayment:
    """A claimed due payment; `attempts` counts earlier claims (0: never tried)."""

    booking_id: UUID
    attempts: int
    correlation_id: str = ""
    traceparent: str | None = None


@dataclass(frozen=True)
class EventBooking:
    """A booking of an event, indexed so the event's cancellation finds its bookings."""

    event_id: UUID
    booking_id: UUID


@dataclass(frozen=True)
class EventCancellationStarted:
    """An event was cancelled: its bookings are to be ended (the cascade's durable record)."""

    event_id: UUID
    cancelled_by: str
    cancelled_at: datetime
    correlation_id: str = ""


@dataclass(frozen=True)
class EventCancellationProgress:
    """The cascade ended the event's bookings up to `after_seq` (their index order) and
    continues at `due_at`; `due_at` None: it is done and its record goes."""

    event_id: UUID
    after_seq: int
    swept: bool
    due_at: datetime | None


@dataclass(frozen=True)
class EventCancellationTask:
    """A claimed event cancellation in progress. `swept`: the final pass from the start
    (for bookings committed late, past the cursor) is under way."""

    event_id: UUID
    cancelled_by: str
    cancelled_at: datetime
    after_seq: int
    swept: bool
    correlation_id: str


@dataclass(frozen=True)
class RowsWithEvents:
    """What a save stores beside the domain events, all in one transaction."""

    idempotency: Sequence[IdempotencyRecord] = ()
    holds: Sequence[HoldChange] = ()
    payments: Sequence[PaymentDueChange] = ()
    event_bookings: Sequence[EventBooking] = ()
    event_cancellations: Sequence[EventCancellationStarted | EventCancellationProgress] = ()
    # Under its own name: Application.save() passes `tracking=` itself, so a caller can't.
    tracking: Tracking | None = None

    KEYWORD: ClassVar[str] = "rows_with_events"

    def as_save_kwargs(self) -> dict[str, RowsWithEvents]:
        return {self.KEYWORD: self}

    @classmethod
    def from_save_kwargs(cls, kwargs: dict[str, Any]) -> RowsWithEvents:
        rows = kwargs.get(cls.KEYWORD)
        if rows is None:
            return cls()
        if not isinstance(rows, cls):
            raise TypeError(f"{cls.KEYWORD} must be {cls.__name__}, not {type(rows).__name__}")
        return rows


class BookingDisowned(IntegrityError):
    """A new booking whose id inventory was told is not stored: its hold is being released,
    so it must not be stored now."""

    def __init__(self, booking_ids: set[UUID]) -> None:
        names = ", ".join(sorted(map(str, booking_ids)))
        super().__init__(f"bookings disowned before they were stored: {names}")
        self.booking_ids = booking_ids


class BookingRecorder(ProcessRecorder, ABC):
    @abstractmethod
    def find_idempotency_record(
        self, scope: str, key: str, now: datetime
    ) -> IdempotencyRecord | None: ...

    @abstractmethod
    def find_idempotency_records(
        self, claims: Sequence[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], IdempotencyRecord]:
        """The live records of these (scope, key) pairs, in one look-up."""

    @abstractmethod
    def known_bookings(self, booking_ids: Sequence[UUID]) -> set[UUID]:
        """The ids among these that are stored bookings; the others are disowned for good,
        in the same transaction: a commit that would store one of them later fails
        (`BookingDisowned`). Inventory asks before it releases a hold no booking claimed."""

    @abstractmethod
    def purge_idempotency_records(self, now: datetime) -> int: ...

    @abstractmethod
    def expired_holds(self, now: datetime, limit: int) -> Sequence[UUID]: ...

    @abstractmethod
    def pending_hold_count(self) -> int: ...

    @abstractmethod
    def claim_due_payments(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> Sequence[DuePayment]:
        """Up to `limit` payments due by `now`, leased until `lease_until` so no other
        worker takes them meanwhile (a crashed worker's lease runs out)."""

    @abstractmethod
    def postpone_payments(self, booking_ids: Sequence[UUID], until: datetime) -> None:
        """Leaves these payments due, to be tried again from `until`."""

    @abstractmethod
    def due_payment_count(self) -> int: ...

    @abstractmethod
    def claim_event_cancellation(
        self, now: datetime, lease_until: datetime
    ) -> EventCancellationTask | None:
        """One event cancellation due by `now`, leased until `lease_until`."""

    @abstractmethod
    def bookings_of_event(
        self, event_id: UUID, after_seq: int, limit: int
    ) -> Sequence[tuple[int, UUID]]:
        """(seq, booking id) of the event's bookings past `after_seq`, in seq order."""

    @abstractmethod
    def event_cancellation_count(self) -> int: ...

    @abstractmethod
    def notification_id_of(self, aggregate_id: UUID, version: int) -> int | None: ...

    @abstractmethod
    def ping(self) -> None:
        """Raises unless the store answers a statement (readiness)."""

    @abstractmethod
    def select_events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Every stored event of these aggregates, in version order, in one look-up."""

    @abstractmethod
    def events_with_bookings(self) -> list[UUID]:
        """Every event with a stored booking."""

    @abstractmethod
    def select_records_of(
        self, originator_ids: Sequence[UUID]
    ) -> dict[UUID, list[tuple[int, StoredEvent]]]:
        """Every stored event of these aggregates with its position, in version order."""

    @abstractmethod
    def positions_taken(self) -> int:
        """The newest position given out: a new event gets a later one."""

    @abstractmethod
    def advance_positions(self, past: int) -> int:
        """New events get positions after `past` (a restored store's log continues past
        what was published before the restore); returns the newest position now."""

    @abstractmethod
    def timed_event_ids_from(self) -> int:
        """The first notification whose public event id names when it was recorded."""

    @abstractmethod
    def broker_epoch(self) -> tuple[str, str] | None:
        """(Kafka cluster id, suffix of the tracking streams that belong to it); None: none."""

    @abstractmethod
    def record_broker_epoch(self, cluster_id: str) -> None:
        """The first cluster seen: its tracking streams keep their names (no suffix)."""

    @abstractmethod
    def adopt_broker_epoch(self, cluster_id: str) -> bool:
        """A new cluster: its tracking streams get a new suffix, so every position starts
        again at 0 while the old tracking records stay. False when already adopted."""


# --- the payment provider ------------------------------------------------------------


class IntentStatus:
    """PaymentIntent states of the provider's API (shaped like Stripe's)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"  # declined
    REQUIRES_CAPTURE = "requires_capture"  # authorised
    SUCCEEDED = "succeeded"  # captured
    CANCELED = "canceled"


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str
    amount: int
    amount_received: int
    currency: str


@dataclass(frozen=True)
class Refund:
    id: str
    amount: int


class PaymentDeclined(Exception):
    """The card was declined (402); `decline_code` says why, e.g. insufficient_funds."""

    def __init__(self, decline_code: str, intent: PaymentIntent | None = None) -> None:
        super().__init__(f"card declined ({decline_code})")
        self.decline_code = decline_code
        self.intent = intent


class PaymentRequestRefused(Exception):
    """The provider refused the request itself (400, 409): retrying it cannot help."""


class PaymentUnavailable(Exception):
    """Unreachable, failing (5xx, 503) or breaker open, after retries: try again later."""

    def __init__(self, message: str, *, retry_after_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PaymentOutcomeUnknown(PaymentUnavailable):
    """The call timed out: it may have taken effect. Look the intent up before anything."""


class PaymentProvider(Protocol):
    """Manual-capture card payments with idempotency keys (amounts in minor units)."""

    async def create_intent(
        self,
        *,
        idempotency_key: str,
        amount: int,
        currency: str,
        payment_token: str,
        booking_id: UUID,
    ) -> PaymentIntent: ...

    async def capture(
        self, intent_id: str, *, amount: int, idempotency_key: str
    ) -> PaymentIntent: ...

    async def find_intent(self, idempotency_key: str) -> PaymentIntent | None: ...

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> PaymentIntent: ...

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> Refund: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class TicketsToHold:
    """What a new booking asks inventory to hold before it is stored."""

    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    owner_id: str
    """The account the booking is for: inventory counts purchase limits per account."""
    offer_id: UUID | None = None
    """The waitlist offer the booking takes up: its tickets, held for the owner, are used."""


@dataclass(frozen=True)
class HoldAnswer:
    """Inventory's answer for one booking: held, or refused with its reason (`sold_out`,
    `not_enough_tickets`, ..., or `hold_released`: this booking id was held once and its
    hold ended, so it is never held again) and what the refusal says beside it (the sale
    window of `not_on_sale`, the limit of `purchase_limit_reached`), as JSON values."""

    booking_id: UUID
    held: bool
    refusal: str | None = None
    refusal_details: Mapping[str, Any] = field(default_factory=dict)


class InventoryUnavailable(Exception):
    """Inventory gave no answer (unreachable, failing, or its breaker open): nothing is
    known to be held; a hold it made anyway is released by its sweeper."""

    def __init__(self, detail: str, *, retry_after_seconds: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class InventoryHolds(Protocol):
    """Inventory's synchronous hold call: one batch, one answer per booking in order; the
    same booking id answers the same way however often it is asked."""

    async def hold(self, requests: Sequence[TicketsToHold]) -> list[HoldAnswer]: ...

    async def aclose(self) -> None: ...


class InventoryTicketTypes(Protocol):
    """Inventory's answer before a ticket type's quantity goes down or the type is removed:
    applied (a lower quantity takes effect at once) or refused with what is taken; the same
    `change_id` answers the same way. Raises `InventoryUnavailable` without an answer."""

    async def change_ticket_type(
        self, question: TicketTypeChangeQuestion
    ) -> TicketTypeChangeAnswer: ...


class Inventory(InventoryHolds, InventoryTicketTypes, Protocol):
    """Everything booking-command asks inventory synchronously."""


# --- the reconciliation after a restore of the event store ------------------------------


class ReconciliationUnavailable(Exception):
    """A service or the provider did not answer the reconciliation (or refused it)."""


class InventoryReconciliation(Protocol):
    """Inventory's side: what it holds per event, and releasing what the store lacks."""

    async def event_ids(self) -> list[UUID]: ...

    async def event(self, event_id: UUID) -> InventoryEvent | None: ...

    async def release(self, booking_ids: Sequence[UUID]) -> Releases: ...

    async def aclose(self) -> None: ...


class ReadModelReconciliation(Protocol):
    """The read models' side: what they show per event, and setting aside lost facts."""

    async def events(self) -> EventIds: ...

    async def event(self, event_id: UUID) -> ReadModelEvent | None: ...

    async def set_aside(self, facts: Sequence[SetAsideFacts]) -> int: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class LedgerEntry:
    """A payment intent as the provider's ledger export lists it."""

    intent_id: str
    booking_id: UUID | None
    status: str
    amount: int
    amount_received: int
    amount_refunded: int
    currency: str


class PaymentLedger(Protocol):
    async def ledger(self) -> list[LedgerEntry]:
        """Every payment intent the platform's key made."""
        ...

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> Refund: ...

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> PaymentIntent: ...
