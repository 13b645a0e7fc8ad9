"""The consumer's use case: a partition batch of facts in, customers, event details,
waitlist offers and notices out, stored in one transaction with the partition's next offset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from notifications.application.ports import FactStore, FactsToRecord
from notifications.domain.notices import (
    Customer,
    EventDetails,
    Notice,
    NoticeKind,
    WaitlistOffer,
    customer_from,
    event_details_from,
    notice_for,
    offer_from,
)
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import PublicEvent

Fact = tuple[EventEnvelope, PublicEvent]


@dataclass(frozen=True)
class BatchRecorded:
    new_notices: list[NoticeKind]
    """The kinds of the notices this batch added (none for facts seen before)."""


class RecordFacts:
    def __init__(self, store: FactStore) -> None:
        self._store = store

    async def __call__(
        self,
        facts: Sequence[Fact],
        *,
        topic: str,
        partition: int,
        next_offset: int,
        continues_from: int | None,
    ) -> BatchRecorded:
        customers: list[Customer] = []
        events: list[EventDetails] = []
        offers: list[WaitlistOffer] = []
        notices: list[Notice] = []
        for envelope, fact in facts:
            if (customer := customer_from(fact)) is not None:
                customers.append(customer)
            if (offer := offer_from(fact)) is not None:
                offers.append(offer)
            if (details := event_details_from(fact)) is not None:
                events.append(details)
            if (notice := notice_for(envelope.event_id, envelope.occurred_at, fact)) is not None:
                notices.append(notice)
        new = await self._store.record(
            FactsToRecord(
                topic=topic,
                partition=partition,
                next_offset=next_offset,
                continues_from=continues_from,
                customers=customers,
                events=events,
                offers=offers,
                notices=notices,
            )
        )
        return BatchRecorded(new_notices=new)
