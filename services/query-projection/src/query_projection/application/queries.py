"""Query use cases: consistency waits, Redis/PostgreSQL composition and ETags."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from query_projection.application.ports import (
    CatalogViews,
    EndOffsets,
    HotViews,
    HotViewsUnavailable,
    ReadModelStore,
    StockEntry,
    StoredHotRows,
)
from query_projection.application.views import (
    AvailabilityView,
    BookingCountsView,
    BookingFilters,
    BookingView,
    EventCatalog,
    EventDetailsView,
    EventFilters,
    EventSaleTerms,
    EventSummaryView,
    Page,
    PartitionPositionView,
    PopularEventView,
    PositionsView,
    TicketAvailabilityView,
    TicketTypeSaleTerms,
    TicketTypeView,
    VenueView,
)
from query_projection.application.waiting import PositionWaiter, ReadModelBehind, wait_until
from query_projection.domain.positions import max_position
from query_projection.domain.read_models import show_revision
from service_kit.errors import NotFoundError
from ticketing_contracts.events import BookingStatus, PaymentStatus

T = TypeVar("T")


@dataclass(frozen=True)
class Tagged(Generic[T]):
    value: T
    etag: str


@dataclass(frozen=True)
class Consistency:
    """Read-your-writes: how far the read models must be, and how long to wait for it."""

    min_position: int | None = None
    min_version: int | None = None
    wait_ms: int = 0


def resource_etag(resource_id: UUID, version: str | int) -> str:
    return f'"{resource_id}:{version}"'


def list_etag(kind: str, fingerprint: str, *parameters: object) -> str:
    digest = hashlib.sha256(repr((kind, fingerprint, parameters)).encode()).hexdigest()[:24]
    return f'"{kind}:{digest}"'


def _reported(levels: dict[UUID, StockEntry]) -> dict[UUID, StockEntry]:
    """The levels inventory reported: a provisional one only repeats the catalog's quantity
    when the type was added, and the catalog's current quantity (after an edit) stands for
    it until inventory reports."""
    return {key: level for key, level in levels.items() if not level.provisional}


def _sale_fields(terms: EventSaleTerms | TicketTypeSaleTerms) -> dict[str, Any]:
    """The sale terms' fields, to build a view that carries them."""
    kind = EventSaleTerms if isinstance(terms, EventSaleTerms) else TicketTypeSaleTerms
    return {name: getattr(terms, name) for name in kind.model_fields}


class ReadModelQueries:
    def __init__(
        self,
        store: ReadModelStore,
        views: CatalogViews,
        hot: HotViews,
        waiter: PositionWaiter,
        end_offsets: EndOffsets,
        topics: tuple[str, ...],
        stored_hot: StoredHotRows,
    ) -> None:
        self._store = store
        self._views = views
        self._hot = hot
        # What Redis holds, from PostgreSQL: read while Redis is away or being filled again.
        self._stored_hot = stored_hot
        self._waiter = waiter
        self._end_offsets = end_offsets
        self._topics = topics

    async def _generation(self, consistency: Consistency) -> int:
        await self._waiter.require(consistency.min_position, consistency.wait_ms)
        return await self._store.active_generation()

    async def _at_version(
        self,
        fetch: Callable[[], Awaitable[T | None]],
        version_of: Callable[[T], int],
        consistency: Consistency,
        what: str,
    ) -> T:
        found: T | None = await fetch()
        minimum = consistency.min_version
        if minimum is not None and (found is None or version_of(found) < minimum):

            async def newer() -> bool:
                nonlocal found
                found = await fetch()
                return found is not None and version_of(found) >= minimum

            if not await wait_until(newer, consistency.wait_ms / 1000, self._waiter.signal):
                raise ReadModelBehind(
                    f"{what} has not reached version {minimum} within {consistency.wait_ms} ms"
                )
        if found is None:
            raise NotFoundError(f"{what} not found")
        return found

    # --- venues --------------------------------------------------------------------

    async def venues(
        self, page: int, size: int, consistency: Consistency
    ) -> Tagged[Page[VenueView]]:
        generation = await self._generation(consistency)
        result, fingerprint = await self._views.venues_page(generation, page, size)
        return Tagged(result, list_etag("venues", fingerprint, page, size))

    async def venue(self, venue_id: UUID, consistency: Consistency) -> Tagged[VenueView]:
        generation = await self._generation(consistency)
        venue = await self._at_version(
            lambda: self._views.venue(generation, venue_id),
            lambda v: v.version,
            consistency,
            f"Venue {venue_id}",
        )
        return Tagged(venue, resource_etag(venue_id, venue.version))

    # --- events --------------------------------------------------------------------

    async def events(
        self, filters: EventFilters, page: int, size: int, consistency: Consistency
    ) -> Tagged[Page[EventSummaryView]]:
        generation = await self._generation(consistency)
        result, fingerprint = await self._views.events_page(generation, filters, page, size)
        return Tagged(
            result, list_etag("events", fingerprint, filters.model_dump_json(), page, size)
        )

    async def _stock(self, generation: int, event_id: UUID) -> dict[UUID, StockEntry]:
        try:
            levels: Sequence[StockEntry] = await self._hot.availability(generation, event_id)
        except HotViewsUnavailable:
            levels = []
        if not levels:  # none yet, or Redis lost them: PostgreSQL has them if anyone does
            levels = await self._stored_hot.stock(generation, event_id)
        return {level.ticket_type_id: level for level in levels}

    async def _catalog(self, generation: int, event_id: UUID) -> EventCatalog | None:
        try:
            revision, body = await self._hot.cached_event(generation, event_id)
        except HotViewsUnavailable:
            return await self._views.event_catalog(generation, event_id)
        if body is not None:
            cached = EventCatalog.model_validate_json(body)
            if show_revision(cached.version, cached.venue_version) == revision:
                return cached
        catalog = await self._views.event_catalog(generation, event_id)
        if catalog is not None:
            with contextlib.suppress(HotViewsUnavailable):  # the next read fills it
                await self._hot.fill_event_cache(
                    generation,
                    event_id,
                    show_revision(catalog.version, catalog.venue_version),
                    catalog.model_dump_json(),
                )
        return catalog

    async def event(self, event_id: UUID, consistency: Consistency) -> Tagged[EventDetailsView]:
        generation = await self._generation(consistency)
        catalog = await self._at_version(
            lambda: self._catalog(generation, event_id),
            lambda c: c.version,
            consistency,
            f"Event {event_id}",
        )
        stock = _reported(await self._stock(generation, event_id))
        ticket_types = []
        for ticket_type in catalog.ticket_types:
            level = stock.get(ticket_type.ticket_type_id)
            reserved = level.reserved if level else 0
            sold = level.sold if level else 0
            available = level.available if level else ticket_type.quantity
            ticket_types.append(
                TicketTypeView(
                    **_sale_fields(ticket_type.sale_terms(catalog)),
                    ticket_type_id=ticket_type.ticket_type_id,
                    name=ticket_type.name,
                    price=ticket_type.price,
                    currency=ticket_type.currency,
                    quantity=level.quantity if level else ticket_type.quantity,
                    reserved=reserved,
                    sold=sold,
                    available=available,
                    sold_out=available <= 0,
                )
            )
        details = EventDetailsView(
            **_sale_fields(catalog),
            event_id=catalog.event_id,
            name=catalog.name,
            description=catalog.description,
            starts_at=catalog.starts_at,
            status=catalog.status,
            version=catalog.version,
            venue=catalog.venue,
            ticket_types=ticket_types,
            tickets_sold=sum(t.sold for t in ticket_types),
            created_at=catalog.created_at,
            updated_at=catalog.updated_at,
        )
        stock_versions = sum(level.stock_version for level in stock.values())
        version = f"{catalog.version}.{catalog.venue_version or 0}.{stock_versions}"
        return Tagged(details, resource_etag(event_id, version))

    async def availability(
        self, event_id: UUID, consistency: Consistency
    ) -> Tagged[AvailabilityView]:
        generation = await self._generation(consistency)
        levels = await self._stock(generation, event_id)
        catalog = await self._catalog(generation, event_id)
        if catalog is None and not levels:
            raise NotFoundError(f"Event {event_id} not found")
        if catalog is not None:
            levels = _reported(levels)
        order = [t.ticket_type_id for t in catalog.ticket_types] if catalog else []
        removed = set(catalog.removed_ticket_type_ids) if catalog else set()
        order += sorted(set(levels) - set(order) - removed)
        known = {t.ticket_type_id: t for t in catalog.ticket_types} if catalog else {}
        event_terms = EventSaleTerms.model_validate(_sale_fields(catalog)) if catalog else None
        ticket_types = []
        for ticket_type_id in order:
            level = levels.get(ticket_type_id)
            in_catalog = known.get(ticket_type_id)
            quantity = level.quantity if level else known[ticket_type_id].quantity
            available = level.available if level else quantity
            terms = (
                in_catalog.sale_terms(event_terms)
                if in_catalog is not None and event_terms is not None
                else TicketTypeSaleTerms()
            )
            ticket_types.append(
                TicketAvailabilityView(
                    **_sale_fields(terms),
                    ticket_type_id=ticket_type_id,
                    quantity=quantity,
                    reserved=level.reserved if level else 0,
                    sold=level.sold if level else 0,
                    available=available,
                    sold_out=available <= 0,
                    stock_version=level.stock_version if level else 0,
                )
            )
        view = AvailabilityView(
            **(_sale_fields(event_terms) if event_terms is not None else {}),
            event_id=event_id,
            ticket_types=ticket_types,
            sold_out=all(t.sold_out for t in ticket_types),
        )
        # The sale terms come with the catalog's version; the levels with their own.
        catalog_version = catalog.version if catalog else 0
        stock_versions = sum(t.stock_version for t in ticket_types)
        version = f"{catalog_version}.{len(ticket_types)}.{stock_versions}"
        return Tagged(view, resource_etag(event_id, version))

    async def popular_events(
        self, limit: int, consistency: Consistency
    ) -> Tagged[list[PopularEventView]]:
        generation = await self._generation(consistency)
        # Ask for a few more: events not yet in the catalog read model are left out.
        try:
            ranked = await self._hot.popular_events(generation, limit + 10)
        except HotViewsUnavailable:
            ranked = await self._stored_hot.popular_events(generation, limit + 10)
        summaries = await self._views.event_summaries(generation, [e for e, _ in ranked])
        items = [
            PopularEventView(
                event_id=event_id,
                name=summary.name,
                venue_id=summary.venue_id,
                starts_at=summary.starts_at,
                status=summary.status,
                tickets_sold=sold,
            )
            for event_id, sold in ranked
            if (summary := summaries.get(event_id)) is not None
        ][:limit]
        body = "|".join(f"{i.event_id}:{i.tickets_sold}:{i.status}:{i.name}" for i in items)
        return Tagged(items, list_etag("popular", str(generation), body))

    # --- bookings ------------------------------------------------------------------

    async def _booking(self, generation: int, booking_id: UUID) -> BookingView | None:
        try:
            status = await self._hot.booking_status(generation, booking_id)
        except HotViewsUnavailable:
            status = None
        stored = await self._views.booking(generation, booking_id)
        if status is None:
            return stored
        version = int(status["version"])
        if stored is not None:
            if stored.version >= version:
                return stored
            return stored.model_copy(
                update={
                    "status": BookingStatus(status["status"]),
                    "version": version,
                    "payment_status": _payment_status(status),
                    "payment_reference": status.get("payment_reference")
                    or stored.payment_reference,
                    "reason": status.get("reason") or stored.reason,
                }
            )
        # Redis is written just before PostgreSQL commits: details follow in a moment.
        return BookingView(
            booking_id=booking_id,
            event_id=UUID(status["event_id"]),
            ticket_type_id=UUID(status["ticket_type_id"]),
            quantity=int(status["quantity"]),
            status=BookingStatus(status["status"]),
            version=version,
            owner_id=status.get("owner_id"),
            customer_name=None,
            customer_email=None,
            unit_price=None,
            total_price=None,
            currency=None,
            hold_expires_at=None,
            reason=status.get("reason"),
            payment_status=_payment_status(status),
            payment_reference=status.get("payment_reference"),
            created_at=None,
            updated_at=datetime.fromisoformat(status["updated_at"])
            if "updated_at" in status
            else None,
        )

    async def booking(self, booking_id: UUID, consistency: Consistency) -> Tagged[BookingView]:
        generation = await self._generation(consistency)
        booking = await self._at_version(
            lambda: self._booking(generation, booking_id),
            lambda b: b.version,
            consistency,
            f"Booking {booking_id}",
        )
        return Tagged(booking, resource_etag(booking_id, booking.version))

    async def bookings(
        self, filters: BookingFilters, page: int, size: int, consistency: Consistency
    ) -> Tagged[Page[BookingView]]:
        generation = await self._generation(consistency)
        result, fingerprint = await self._views.bookings_page(generation, filters, page, size)
        return Tagged(
            result, list_etag("bookings", fingerprint, filters.model_dump_json(), page, size)
        )

    async def booking_counts(
        self, event_id: UUID, consistency: Consistency
    ) -> Tagged[BookingCountsView]:
        generation = await self._generation(consistency)
        found, fingerprint = await self._views.booking_counts(generation, event_id)
        counts = {status: found.get(status, 0) for status in BookingStatus}
        view = BookingCountsView(event_id=event_id, counts=counts, total=sum(counts.values()))
        return Tagged(view, list_etag("booking-counts", fingerprint, event_id))

    # --- positions -----------------------------------------------------------------

    async def positions(self, position_topics: tuple[str, ...]) -> PositionsView:
        generation = await self._store.active_generation()
        progress = {p.key: p for p in await self._store.progress(self._topics, generation)}
        try:
            ends: dict[tuple[str, int], int] | None = await self._end_offsets.end_offsets(
                self._topics
            )
        except Exception:  # the broker being down must not hide the applied positions
            ends = None
        keys = sorted(set(progress) | set(ends or {}))
        partitions = []
        for key in keys:
            applied = progress.get(key)
            offset = applied.next_offset if applied else 0
            end = ends.get(key) if ends is not None else None
            partitions.append(
                PartitionPositionView(
                    topic=key[0],
                    partition=key[1],
                    offset=offset,
                    high_watermark=end,
                    lag=max(end - offset, 0) if end is not None else None,
                    last_position=applied.last_position if applied else None,
                    last_occurred_at=applied.last_occurred_at if applied else None,
                )
            )
        return PositionsView(
            generation=generation,
            position=max_position(p for k, p in progress.items() if k[0] in position_topics),
            caught_up=ends is not None and all(p.lag == 0 for p in partitions),
            partitions=partitions,
        )


def _payment_status(status: dict[str, str]) -> PaymentStatus | None:
    value = status.get("payment_status")
    return PaymentStatus(value) if value else None
