"""Decides a fetched batch of one partition and stores everything in one transaction.

Stock, booking states, outbox rows, the record of every message the batch consumed and
the offset the partition continues from commit together, so a message seen again
(redelivery, rebalance, crash, duplicate publish) is recognised and has no second effect.
The batch publishes the stock of each ticket type it changed once, as it is after the
whole batch, however many bookings moved it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from inventory.application.messages import (
    DecodedMessage,
    MessagePosition,
    OutgoingMessage,
    ProcessedAs,
    ProcessedMessage,
)
from inventory.application.ports import CatalogProgress, InventoryUnitOfWork, UnitOfWorkFactory
from inventory.application.public_events import (
    decided_now,
    offer_message,
    rejection_message,
    stock_message,
)
from inventory.domain import outcomes
from inventory.domain.bookings import BookingRecord, BookingState
from inventory.domain.ledger import InventoryLedger
from inventory.domain.outcomes import CATALOG_DEPENDENT_REJECTIONS, BookingLine
from inventory.domain.sale import AccountKey, SaleTerms
from inventory.domain.stock import HoldWindows
from ticketing_contracts import events as public
from ticketing_contracts.events.catalog import TicketTypeChanged, TicketTypeRemoved

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    messages: int = 0
    applied: int = 0
    ignored: int = 0
    duplicates: int = 0
    outcomes: list[outcomes.Outcome] = field(default_factory=list)
    waited_for_catalog: bool = False


@dataclass(frozen=True)
class _Decision:
    processed: list[ProcessedMessage]
    outbox: list[OutgoingMessage]
    result: BatchResult


class _NeedsCatalog(Exception):
    pass


class ProcessMessageBatch:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        catalog: CatalogProgress,
        *,
        outcome_topic: str,
        producer: str,
        clock: Callable[[], datetime] = decided_now,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._catalog = catalog
        self._outcome_topic = outcome_topic
        self._producer = producer
        self._clock = clock

    async def __call__(
        self,
        messages: Sequence[DecodedMessage],
        *,
        next_offset: MessagePosition,
        continues_from: int | None = None,
    ) -> BatchResult:
        """Decides `messages` and records that their partition continues at `next_offset`.

        `messages` may be empty or have gaps (messages that went to the dead-letter
        topic): the offset is recorded all the same.
        """
        try:
            return await self._decide_and_store(
                messages, next_offset, continues_from, catalog_confirmed=False
            )
        except _NeedsCatalog:
            # A rejection that only says "not in the catalog (yet)" may be the catalog
            # consumer lagging behind; read the catalog to its end first, then decide.
            await self._catalog.wait_until_caught_up()
            result = await self._decide_and_store(
                messages, next_offset, continues_from, catalog_confirmed=True
            )
            result.waited_for_catalog = True
            return result

    async def _decide_and_store(
        self,
        messages: Sequence[DecodedMessage],
        next_offset: MessagePosition,
        continues_from: int | None,
        *,
        catalog_confirmed: bool,
    ) -> BatchResult:
        async with self._unit_of_work() as uow:
            seen_positions, seen_ids = await uow.processed(
                [message.position for message in messages],
                [message.envelope.event_id for message in messages],
            )
            fresh = [message for message in messages if message.position not in seen_positions]
            if not fresh:
                await uow.record_next_offset(next_offset, continues_from=continues_from)
                await uow.commit()
                return BatchResult(messages=len(messages), duplicates=len(messages))
            bookings = await uow.load_bookings(sorted(_booking_ids(fresh)))
            event_ids = _event_ids(fresh) | {booking.event_id for booking in bookings}
            shows = await uow.load_shows(sorted(event_ids))
            accounts = _accounts_to_decide(fresh, bookings)
            account_tickets = await uow.account_tickets(sorted(accounts)) if accounts else {}
            # Cancellations and removals end waitlist entries; the show's version guards them.
            waitlists = sorted(_waitlists_to_decide(fresh))
            entries = await uow.open_entries(waitlists) if waitlists else []
            ledger = InventoryLedger(
                shows, bookings, account_tickets, entries=entries, waitlists_of=waitlists
            )
            decision = self._decide(ledger, fresh, seen_ids, catalog_confirmed=catalog_confirmed)
            decision.result.messages = len(messages)
            decision.result.duplicates += len(messages) - len(fresh)
            await save_ledger(uow, ledger)
            await uow.record_processed(decision.processed)
            await uow.record_next_offset(next_offset, continues_from=continues_from)
            await uow.add_to_outbox(decision.outbox)
            await uow.commit()
            return decision.result

    def _decide(
        self,
        ledger: InventoryLedger,
        messages: Sequence[DecodedMessage],
        seen_ids: set[UUID],
        *,
        catalog_confirmed: bool,
    ) -> _Decision:
        result = BatchResult()
        decided_at = self._clock()
        processed: list[ProcessedMessage] = []
        rejections: list[OutgoingMessage] = []
        offers: list[OutgoingMessage] = []
        # The last message that moved each ticket type's stock: its snapshot's cause.
        causes: dict[UUID, DecodedMessage] = {}
        ids_seen = set(seen_ids)
        for message in messages:
            message_id = message.envelope.event_id
            if message_id in ids_seen:
                processed.append(ProcessedMessage(message.position, None, ProcessedAs.DUPLICATE))
                result.duplicates += 1
                continue
            ids_seen.add(message_id)
            moved_before = set(ledger.changed_stock)
            offers_before = len(ledger.offer_facts)
            produced = apply_event(ledger, message.event, at=message.envelope.occurred_at)
            if produced is None:
                processed.append(
                    ProcessedMessage(message.position, message_id, ProcessedAs.IGNORED)
                )
                result.ignored += 1
                continue
            if not catalog_confirmed and any(
                isinstance(outcome, outcomes.ReservationRejected)
                and outcome.reason in CATALOG_DEPENDENT_REJECTIONS
                for outcome in produced
            ):
                raise _NeedsCatalog
            processed.append(ProcessedMessage(message.position, message_id, ProcessedAs.APPLIED))
            result.applied += 1
            result.outcomes.extend(produced)
            # Catalog changes move stock too (a quantity, offers a cancellation ended).
            for _, ticket_type_id in ledger.changed_stock - moved_before:
                causes[ticket_type_id] = message
            offers.extend(
                offer_message(
                    decided,
                    correlation_id=message.envelope.correlation_id,
                    topic=self._outcome_topic,
                    producer=self._producer,
                    decided_at=decided_at,
                )
                for decided in ledger.offer_facts[offers_before:]
            )
            for outcome in produced:
                if isinstance(outcome, outcomes.StockMove):
                    causes[outcome.stock.ticket_type_id] = message
                else:
                    rejections.append(
                        rejection_message(
                            outcome,
                            cause=message.envelope,
                            topic=self._outcome_topic,
                            producer=self._producer,
                            trace_headers=message.trace_headers,
                            decided_at=decided_at,
                        )
                    )
        stock = [
            self._stock_message(change, causes[change.stock.ticket_type_id], decided_at)
            for change in ledger.stock_changes()
        ]
        return _Decision(processed, [*rejections, *offers, *stock], result)

    def _stock_message(
        self, change: outcomes.StockChanged, cause: DecodedMessage, decided_at: datetime
    ) -> OutgoingMessage:
        return stock_message(
            change,
            correlation_id=cause.envelope.correlation_id,
            causation_id=str(cause.envelope.event_id),
            topic=self._outcome_topic,
            producer=self._producer,
            trace_headers=cause.trace_headers,
            decided_at=decided_at,
        )


async def save_ledger(uow: InventoryUnitOfWork, ledger: InventoryLedger) -> None:
    """Writes what the ledger changed (raises `ConcurrencyConflict` like `uow.save`)."""
    await uow.save(
        new_shows=[ledger.shows[i] for i in sorted(ledger.new_shows)],
        changed_shows=[ledger.shows[i] for i in sorted(ledger.changed_shows - ledger.new_shows)],
        new_bookings=[ledger.bookings[i] for i in sorted(ledger.new_bookings)],
        changed_bookings=[ledger.bookings[i] for i in sorted(ledger.changed_bookings)],
        new_entries=[ledger.entries[i] for i in sorted(ledger.new_entries)],
        changed_entries=[ledger.entries[i] for i in sorted(ledger.changed_entries)],
    )


async def save_ledger_and_stock_facts(
    uow: InventoryUnitOfWork,
    ledger: InventoryLedger,
    *,
    correlation_id: str,
    topic: str,
    producer: str,
    decided_at: datetime,
) -> None:
    """Writes what the ledger changed and queues, in the same transaction, the offers made
    and ended and one stock fact per ticket type whose stock it moved."""
    await save_ledger(uow, ledger)
    await uow.add_to_outbox(
        [
            *offer_messages(
                ledger,
                correlation_id=correlation_id,
                topic=topic,
                producer=producer,
                decided_at=decided_at,
            ),
            *(
                stock_message(
                    change,
                    correlation_id=correlation_id,
                    topic=topic,
                    producer=producer,
                    decided_at=decided_at,
                )
                for change in ledger.stock_changes()
            ),
        ]
    )


def offer_messages(
    ledger: InventoryLedger,
    *,
    correlation_id: str,
    topic: str,
    producer: str,
    decided_at: datetime,
) -> list[OutgoingMessage]:
    return [
        offer_message(
            decided,
            correlation_id=correlation_id,
            topic=topic,
            producer=producer,
            decided_at=decided_at,
        )
        for decided in ledger.offer_facts
    ]


def apply_event(
    ledger: InventoryLedger, event: public.PublicEvent, *, at: datetime
) -> list[outcomes.Outcome] | None:
    """Applies one public event that happened at `at`; None when inventory has nothing to
    do with it. A booking fact is decided as of when it was requested."""
    match event:
        case public.BookingRequested():
            return _some(ledger.request_tickets(_booking_line(event), at=at))
        case public.BookingConfirmed():
            return _some(ledger.confirm_booking(event.booking_id))
        case public.BookingCancelled():
            return _some(ledger.cancel_booking(_booking_line(event)))
        case public.BookingExpired():
            return _some(ledger.expire_hold(_booking_line(event)))
        case public.BookingRejected():
            return _some(ledger.release_rejected(_booking_line(event)))
        case public.EventCreated():
            learned = ledger.learn_ticket_types(
                event.event_id, [(t.ticket_type_id, t.quantity) for t in event.ticket_types]
            )
            ledger.change_sale(event.event_id, _sale_terms(event))
            for ticket_type in event.ticket_types:
                ledger.change_ticket_type_sale(
                    event.event_id, ticket_type.ticket_type_id, _sale_terms(ticket_type)
                )
            return list(learned)
        case public.TicketTypeAdded():
            ticket_type = event.ticket_type
            learned = ledger.learn_ticket_types(
                event.event_id, [(ticket_type.ticket_type_id, ticket_type.quantity)]
            )
            ledger.change_ticket_type_sale(
                event.event_id, ticket_type.ticket_type_id, _sale_terms(ticket_type)
            )
            return list(learned)
        case public.EventSaleChanged():
            ledger.change_sale(event.event_id, _sale_terms(event))
            ledger.change_windows(
                event.event_id, HoldWindows(event.hold_minutes, event.waitlist_offer_minutes)
            )
            return []
        case TicketTypeChanged():
            ledger.change_ticket_type(
                event.event_id,
                event.ticket_type_id,
                quantity=event.quantity,
                sales_closed=event.sales_closed,
            )
            return []
        case TicketTypeRemoved():
            ledger.remove_ticket_type(event.event_id, event.ticket_type_id, at=at)
            return []
        case public.TicketTypeSaleChanged():
            ledger.change_ticket_type_sale(event.event_id, event.ticket_type_id, _sale_terms(event))
            return []
        case public.EventPublished():
            ledger.publish_show(event.event_id)
            return []
        case public.EventCancelled():
            ledger.cancel_show(event.event_id, at=at)
            return []
    return None


_BookingEvent = (
    public.BookingRequested
    | public.BookingConfirmed
    | public.BookingCancelled
    | public.BookingExpired
    | public.BookingRejected
)
_ShowEvent = (
    public.EventCreated
    | public.TicketTypeAdded
    | public.EventSaleChanged
    | public.TicketTypeSaleChanged
    | public.EventPublished
    | public.EventCancelled
    | TicketTypeChanged
    | TicketTypeRemoved
)
_EndsWaitlistEntries = public.EventCancelled | TicketTypeRemoved
_WithSaleTerms = (
    public.EventCreated | public.TicketType | public.EventSaleChanged | public.TicketTypeSaleChanged
)


def _sale_terms(fact: _WithSaleTerms) -> SaleTerms:
    return SaleTerms(fact.sale_starts_at, fact.sale_ends_at, fact.max_tickets_per_account)


def _some(outcome: outcomes.Outcome | None) -> list[outcomes.Outcome]:
    return [outcome] if outcome is not None else []


def _booking_line(event: _BookingEvent) -> BookingLine:
    owner_id = event.owner_id if isinstance(event, public.BookingRequested) else None
    return BookingLine(
        event.booking_id, event.event_id, event.ticket_type_id, event.quantity, owner_id
    )


def _accounts_to_decide(
    messages: Sequence[DecodedMessage], bookings: Sequence[BookingRecord]
) -> set[AccountKey]:
    """The accounts of the booking requests this batch may decide (not those that only
    claim a hold): a purchase limit may count their tickets."""
    decided_before = {
        booking.booking_id
        for booking in bookings
        if booking.state is not BookingState.RELEASED_UNCLAIMED
    }
    return {
        (m.event.event_id, m.event.owner_id)
        for m in messages
        if isinstance(m.event, public.BookingRequested) and m.event.booking_id not in decided_before
    }


def _waitlists_to_decide(messages: Sequence[DecodedMessage]) -> set[UUID]:
    return {m.event.event_id for m in messages if isinstance(m.event, _EndsWaitlistEntries)}


def _event_ids(messages: Sequence[DecodedMessage]) -> set[UUID]:
    return {m.event.event_id for m in messages if isinstance(m.event, _BookingEvent | _ShowEvent)}


def _booking_ids(messages: Sequence[DecodedMessage]) -> set[UUID]:
    return {m.event.booking_id for m in messages if isinstance(m.event, _BookingEvent)}
