"""Facts the event store no longer holds, left out of the read models.

A restore of booking-command's event store loses the facts recorded after its backup, but
they were published and applied already, and they stay on the topics. The reconciliation
(`python -m booking_command reconcile`) tells the projection, per aggregate, which of its
facts the store holds as of a moment; every other fact of that aggregate recorded up to
that moment is set aside: skipped when read again, in a rebuild too. Facts recorded later
are the store's own and apply as usual.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import PublicEvent
from ticketing_contracts.topics import BOOKING_EVENTS, CATALOG_EVENTS

# The write side's facts: only booking-command's event store can lose them to a restore.
EVENT_STORE_TOPICS = frozenset({CATALOG_EVENTS, BOOKING_EVENTS})


@dataclass(frozen=True)
class SetAside:
    """Of the aggregate `subject`, the facts recorded up to `recorded_until` the event store
    holds are `held_event_ids`; the others are set aside."""

    subject: UUID
    held_event_ids: frozenset[UUID]
    recorded_until: datetime

    def leaves_out(self, envelope: EventEnvelope) -> bool:
        return (
            envelope.occurred_at <= self.recorded_until
            and envelope.event_id not in self.held_event_ids
        )


class SetAsideFacts:
    """Every aggregate with facts set aside, by its id."""

    def __init__(self, entries: Iterable[SetAside] = ()) -> None:
        self._by_subject: dict[UUID, SetAside] = {}
        self.replace(entries)

    def replace(self, entries: Iterable[SetAside]) -> None:
        self._by_subject.update({entry.subject: entry for entry in entries})

    def __len__(self) -> int:
        return len(self._by_subject)

    def leaves_out(self, envelope: EventEnvelope, event: PublicEvent) -> bool:
        if not self._by_subject or event.TOPIC not in EVENT_STORE_TOPICS:
            return False
        if envelope.subject is None:
            return False
        try:
            subject = UUID(envelope.subject)
        except ValueError:
            return False
        entry = self._by_subject.get(subject)
        return entry is not None and entry.leaves_out(envelope)
