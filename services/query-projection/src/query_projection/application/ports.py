"""What the use cases need from the outside world; the adapters provide it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol
from uuid import UUID

from query_projection.application.views import (
    BookingFilters,
    BookingView,
    EventCatalog,
    EventFilters,
    EventSummaryView,
    Page,
    VenueView,
)
from query_projection.domain.positions import PartitionProgress, TopicPartition
from query_projection.domain.projection import ProjectionBatch, RowKeys
from query_projection.domain.read_models import Booking, Stock
from ticketing_contracts.events import BookingStatus


class ReadModelSwitched(Exception):
    """The active read-model generation changed (a rebuild switched over)."""

    def __init__(self, active_generation: int) -> None:
        super().__init__(f"read models switched to generation {active_generation}")
        self.active_generation = active_generation


class HotViewsUnavailable(Exception):
    """Redis's read models cannot answer (Redis away, or not filled again yet): read
    PostgreSQL's."""


class PositionMoved(Exception):
    """The partition's stored position is not the one the batch was read from (a broker
    recovery reset it, another replica moved it): read the positions again, apply nothing."""


class ProjectionTransaction(Protocol):
    generation: int

    async def lock_progress(
        self, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, PartitionProgress]: ...

    async def load(self, keys: RowKeys) -> ProjectionBatch: ...

    async def save(self, batch: ProjectionBatch) -> None: ...

    async def show_revisions(
        self, event_ids: Collection[UUID], venue_ids: Collection[UUID]
    ) -> dict[UUID, str]: ...

    async def record_progress(self, progress: Iterable[PartitionProgress]) -> None: ...


class ReadModelStore(Protocol):
    async def active_generation(self) -> int: ...

    def transaction(
        self, generation: int, *, must_be_active: bool
    ) -> AbstractAsyncContextManager[ProjectionTransaction]:
        """A transaction on `generation`'s tables.

        With `must_be_active` it holds off a switch until it commits and raises
        `ReadModelSwitched` when `generation` is no longer the active one.
        """
        ...

    async def progress(
        self, topics: Collection[str], generation: int | None = None
    ) -> list[PartitionProgress]: ...


class HotReadModels(Protocol):
    async def apply(
        self, generation: int, batch: ProjectionBatch, show_revisions: Mapping[UUID, str]
    ) -> None: ...


class StoredHotRows(Protocol):
    """What the Redis read models hold, as PostgreSQL's read models hold it."""

    async def stock(self, generation: int, event_id: UUID | None = None) -> list[Stock]:
        """Every ticket type's stock, or one event's."""
        ...

    async def bookings_after(
        self, generation: int, after: UUID | None, limit: int
    ) -> list[Booking]: ...

    async def popular_events(self, generation: int, limit: int) -> list[tuple[UUID, int]]: ...


class FillableHotReadModels(Protocol):
    """Redis's read models, filled again from PostgreSQL's (`application.hot_refill`)."""

    missed_writes: bool
    serving: int | None

    async def fill(
        self, generation: int, stock: Iterable[Stock], bookings: Iterable[Booking]
    ) -> None: ...

    async def is_filled(self, generation: int) -> bool: ...

    async def mark_filled(self, generation: int, filled: bool = True) -> None: ...


class EndOffsets(Protocol):
    async def end_offsets(self, topics: Collection[str]) -> dict[TopicPartition, int]: ...


class CatalogViews(Protocol):
    async def venues_page(
        self, generation: int, page: int, size: int
    ) -> tuple[Page[VenueView], str]: ...

    async def venue(self, generation: int, venue_id: UUID) -> VenueView | None: ...

    async def events_page(
        self, generation: int, filters: EventFilters, page: int, size: int
    ) -> tuple[Page[EventSummaryView], str]: ...

    async def event_catalog(self, generation: int, event_id: UUID) -> EventCatalog | None: ...

    async def event_summaries(
        self, generation: int, event_ids: Collection[UUID]
    ) -> dict[UUID, EventSummaryView]: ...

    async def booking(self, generation: int, booking_id: UUID) -> BookingView | None: ...

    async def bookings_page(
        self, generation: int, filters: BookingFilters, page: int, size: int
    ) -> tuple[Page[BookingView], str]: ...

    async def booking_counts(
        self, generation: int, event_id: UUID
    ) -> tuple[dict[BookingStatus, int], str]:
        """Bookings of an event per status (statuses without any left out), and the
        fingerprint of what was applied when they were counted."""
        ...


class StockEntry(Protocol):
    @property
    def ticket_type_id(self) -> UUID: ...
    @property
    def quantity(self) -> int: ...
    @property
    def reserved(self) -> int: ...
    @property
    def sold(self) -> int: ...
    @property
    def available(self) -> int: ...
    @property
    def stock_version(self) -> int: ...
    @property
    def provisional(self) -> bool: ...


class HotViews(Protocol):
    async def booking_status(self, generation: int, booking_id: UUID) -> dict[str, str] | None: ...

    async def availability(self, generation: int, event_id: UUID) -> Sequence[StockEntry]: ...

    async def popular_events(self, generation: int, limit: int) -> list[tuple[UUID, int]]: ...

    async def cached_event(
        self, generation: int, event_id: UUID
    ) -> tuple[str | None, str | None]: ...

    async def fill_event_cache(
        self, generation: int, event_id: UUID, revision: str, body: str
    ) -> bool: ...
