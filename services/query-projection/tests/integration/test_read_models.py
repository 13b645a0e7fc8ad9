"""Each read model updated by each event type, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from query_projection.application.ports import PositionMoved
from query_projection.application.queries import Consistency
from query_projection.application.views import BookingFilters, EventFilters
from query_projection.domain.read_models import Stock
from service_kit.errors import NotFoundError
from service_kit.kafka.messages import PartitionBatch
from ticketing_contracts.events import BookingStatus

from .conftest import dump_redis, dump_tables

pytestmark = pytest.mark.integration
NOW = Consistency()


async def catalog(harness, scenario, quantities=(100,)):
    venue = scenario.venue_created()
    venue_id = scenario.subject_id(venue)
    created = scenario.event_created(venue_id, quantities=quantities)
    await harness.publish(venue, created)
    return venue_id, scenario.subject_id(created), scenario.ticket_type_ids(created)


async def test_catalog_events_update_venues_events_and_the_event_cache(harness, scenario):
    venue_id, event_id, _ = await catalog(harness, scenario, quantities=(100, 20))
    queries, hot = harness.queries, harness.hot

    details = (await queries.event(event_id, NOW)).value
    assert details.venue.name == "Royal Hall"
    assert [t.available for t in details.ticket_types] == [100, 20]
    generation = await harness.store.active_generation()
    assert (await hot.cached_event(generation, event_id))[1] is not None

    await harness.publish(
        scenario.details_changed(event_id, "Renamed Show", "fireworks"),
        scenario.ticket_type_added(event_id, quantity=5),
        scenario.published(event_id),
        scenario.rescheduled(event_id, scenario.clock + timedelta(days=30)),
    )
    assert (await hot.cached_event(generation, event_id))[1] is None, "cache invalidated"
    details = (await queries.event(event_id, NOW)).value
    assert (details.name, details.description, details.status) == (
        "Renamed Show",
        "fireworks",
        "published",
    )
    assert [t.quantity for t in details.ticket_types] == [100, 20, 5]
    assert (await queries.availability(event_id, NOW)).value.ticket_types[2].available == 5

    await harness.publish(scenario.venue_updated(venue_id, "Renamed Hall"))
    assert (await queries.event(event_id, NOW)).value.venue.name == "Renamed Hall"
    assert (await queries.venue(venue_id, NOW)).value.capacity == 6000

    found = (await queries.events(EventFilters(q="renam fire"), 1, 20, NOW)).value
    assert [e.event_id for e in found.items] == [event_id]
    assert found.items[0].venue_name == "Renamed Hall"

    await harness.publish(scenario.cancelled(event_id), scenario.venue_deleted(venue_id))
    assert (await queries.event(event_id, NOW)).value.status == "cancelled"
    with pytest.raises(NotFoundError):
        await queries.venue(venue_id, NOW)
    assert venue_id not in [v.venue_id for v in (await queries.venues(1, 100, NOW)).value.items]


async def test_event_search_filters_sorts_and_paginates(harness, scenario):
    venue = scenario.venue_created()
    other = scenario.venue_created(name="Other Hall")
    venue_id, other_id = scenario.subject_id(venue), scenario.subject_id(other)
    start = scenario.clock + timedelta(days=10)
    shows = [
        scenario.event_created(venue_id, name=f"Show {i}", starts_at=start + timedelta(days=i))
        for i in range(5)
    ]
    elsewhere = scenario.event_created(other_id, name="Jazz Night", starts_at=start)
    await harness.publish(venue, other, *shows, elsewhere)
    queries = harness.queries

    page = (await queries.events(EventFilters(venue_id=venue_id), 2, 2, NOW)).value
    assert (page.total, [e.name for e in page.items]) == (5, ["Show 2", "Show 3"])
    newest = (await queries.events(EventFilters(sort="-starts_at"), 1, 1, NOW)).value
    assert newest.items[0].name == "Show 4"
    window = EventFilters(
        starts_after=start + timedelta(days=1), starts_before=start + timedelta(days=3)
    )
    assert [e.name for e in (await queries.events(window, 1, 20, NOW)).value.items] == [
        "Show 1",
        "Show 2",
    ]
    jazz = (await queries.events(EventFilters(q="jazz"), 1, 20, NOW)).value
    assert [e.name for e in jazz.items] == ["Jazz Night"]
    drafts = (await queries.events(EventFilters(status="published"), 1, 20, NOW)).value
    assert drafts.total == 0


async def test_booking_events_update_status_in_redis_and_details_in_postgres(harness, scenario):
    _, event_id, (ticket_type_id,) = await catalog(harness, scenario)
    requested = scenario.booking_requested(event_id, ticket_type_id, quantity=3)
    booking_id = scenario.subject_id(requested)
    queries = harness.queries

    await harness.publish(requested)
    booking = (await queries.booking(booking_id, NOW)).value
    assert (booking.status, booking.total_price, booking.owner_id) == (
        BookingStatus.PENDING,
        pytest.approx(148.5),
        "user-1",
    )
    generation = await harness.store.active_generation()
    status = await harness.hot.booking_status(generation, booking_id)
    assert status["status"] == "PENDING"

    await harness.publish(scenario.booking_confirmed(requested))
    assert (await queries.booking(booking_id, NOW)).value.status is BookingStatus.CONFIRMED
    await harness.publish(scenario.booking_cancelled(requested))
    assert (await queries.booking(booking_id, NOW)).value.status is BookingStatus.CANCELLED

    rejected = scenario.booking_requested(event_id, ticket_type_id, owner_id="user-2")
    expired = scenario.booking_requested(event_id, ticket_type_id, email="x@example.com")
    await harness.publish(
        rejected,
        scenario.booking_rejected(rejected),
        expired,
        scenario.booking_expired(expired),
    )
    # The status a client polls carries why it ended, before the details are stored.
    rejected_status = await harness.hot.booking_status(generation, scenario.subject_id(rejected))
    assert (rejected_status["status"], rejected_status["reason"]) == ("REJECTED", "sold_out")
    by = queries.bookings
    assert (await by(BookingFilters(owner_id="user-2"), 1, 20, NOW)).value.items[0].status == (
        BookingStatus.REJECTED
    )
    by_email = await by(BookingFilters(customer_email="X@example.com"), 1, 20, NOW)
    assert by_email.value.items[0].status is BookingStatus.EXPIRED
    assert (await by(BookingFilters(event_id=event_id), 1, 20, NOW)).value.total == 3
    cancelled = await by(BookingFilters(status=BookingStatus.CANCELLED), 1, 20, NOW)
    assert [b.booking_id for b in cancelled.value.items] == [booking_id]


async def test_stock_changes_update_availability_and_popularity(harness, scenario):
    _, event_id, (ticket_type_id,) = await catalog(harness, scenario, quantities=(10,))
    requested = scenario.booking_requested(event_id, ticket_type_id, quantity=4)
    await harness.publish(
        scenario.stock_changed(event_id, ticket_type_id, quantity=10, stock_version=0), requested
    )
    for reserved, sold, available in [(4, 0, 6), (0, 4, 6), (0, 0, 10)]:
        await harness.publish(
            scenario.stock_changed(
                event_id, ticket_type_id, quantity=10, reserved=reserved, sold=sold
            )
        )
        level = (await harness.availability(event_id))[ticket_type_id]
        assert (level["reserved"], level["sold"], level["available"]) == (
            reserved,
            sold,
            available,
        )
    # A rejection (of a booking inventory decided from its fact) carries the stock as is.
    await harness.publish(scenario.rejection(requested, quantity=10, reserved=0, sold=0))
    assert (await harness.availability(event_id))[ticket_type_id]["available"] == 10

    second = scenario.booking_requested(event_id, ticket_type_id, quantity=10)
    await harness.publish(
        second, scenario.stock_changed(event_id, ticket_type_id, quantity=10, sold=10)
    )
    availability = (await harness.queries.availability(event_id, NOW)).value
    assert availability.sold_out
    popular = (await harness.queries.popular_events(5, NOW)).value
    assert (popular[0].event_id, popular[0].tickets_sold) == (event_id, 10)
    details = (await harness.queries.event(event_id, NOW)).value
    assert (details.tickets_sold, details.ticket_types[0].sold_out) == (10, True)
    by_popularity = await harness.queries.events(EventFilters(sort="popularity"), 1, 1, NOW)
    assert by_popularity.value.items[0].tickets_sold == 10


async def scripted_history(harness, scenario, bookings=6):
    _, event_id, ticket_types = await catalog(harness, scenario, quantities=(50, 30))
    envelopes = [scenario.published(event_id)]
    for ticket_type_id, quantity in zip(ticket_types, (50, 30), strict=True):
        envelopes.append(
            scenario.stock_changed(event_id, ticket_type_id, quantity=quantity, stock_version=0)
        )
    reserved = dict.fromkeys(ticket_types, 0)
    sold = dict.fromkeys(ticket_types, 0)
    for index in range(bookings):
        ticket_type_id = ticket_types[index % 2]
        quantity = {ticket_types[0]: 50, ticket_types[1]: 30}[ticket_type_id]
        requested = scenario.booking_requested(event_id, ticket_type_id, quantity=2)
        reserved[ticket_type_id] += 2
        envelopes += [
            requested,
            scenario.stock_changed(
                event_id,
                ticket_type_id,
                quantity=quantity,
                reserved=reserved[ticket_type_id],
                sold=sold[ticket_type_id],
            ),
        ]
        reserved[ticket_type_id] -= 2
        if index % 3 == 2:
            envelopes.append(scenario.booking_expired(requested))
        else:
            sold[ticket_type_id] += 2
            envelopes.append(scenario.booking_confirmed(requested))
        envelopes.append(
            scenario.stock_changed(
                event_id,
                ticket_type_id,
                quantity=quantity,
                reserved=reserved[ticket_type_id],
                sold=sold[ticket_type_id],
            )
        )
    return event_id, envelopes


async def test_duplicates_and_replays_change_nothing(harness, scenario):
    _, envelopes = await scripted_history(harness, scenario)
    messages = await harness.publish(*envelopes)
    generation = await harness.store.active_generation()
    namespace = harness.hot.keys(generation).namespace

    def models(tables):
        return {k: v for k, v in tables.items() if k != "projection_offsets"}

    tables = await dump_tables(harness.pool, generation)
    hot = await dump_redis(harness.redis, namespace)

    redelivered = await harness.deliver(messages)  # same offsets: the broker redelivers
    assert sum(result.applied for result in redelivered) == 0
    assert sum(result.duplicates for result in redelivered) == len(messages)
    shuffled = random.Random(7).sample(envelopes, len(envelopes))
    await harness.publish(*shuffled, *envelopes[:5])  # republished at new offsets
    assert models(await dump_tables(harness.pool, generation)) == models(tables)
    assert await dump_redis(harness.redis, namespace) == hot


async def test_burst_of_stock_facts_keeps_availability_equal_to_the_newest_stock(
    harness, scenario, log_factory
):
    _, event_id, ticket_types = await catalog(harness, scenario, quantities=(200, 80))
    quantity = {ticket_types[0]: 200, ticket_types[1]: 80}
    rng = random.Random(42)
    newest = {}
    outcomes = []
    state = {t: {"reserved": 0, "sold": 0} for t in ticket_types}
    for _ in range(300):
        ticket_type_id = rng.choice(ticket_types)
        level = state[ticket_type_id]
        requested = scenario.booking_requested(event_id, ticket_type_id, quantity=1)
        free = quantity[ticket_type_id] - level["reserved"] - level["sold"]
        kind = rng.choice(["reserved", "sold", "released", "rejected"])
        if kind == "reserved" and free > 0:
            level["reserved"] += 1
        elif kind == "sold" and level["reserved"] > 0:
            level["reserved"] -= 1
            level["sold"] += 1
        elif kind == "released" and level["reserved"] > 0:
            level["reserved"] -= 1
        else:
            kind = "rejected"
        envelope = (
            scenario.rejection(requested, quantity=quantity[ticket_type_id], **level)
            if kind == "rejected"
            else scenario.stock_changed(
                event_id, ticket_type_id, quantity=quantity[ticket_type_id], **level
            )
        )
        outcomes.append(envelope)
        newest[ticket_type_id] = envelope.data["stock"] | {
            "stock_version": envelope.data["stock_version"]
        }
    burst = outcomes + rng.sample(outcomes, 120)
    rng.shuffle(burst)
    # Several "partitions" applying at once, as during a rebalance with a zombie consumer.
    logs = [log_factory(harness.settings.kafka_topic_prefix, partitions=1) for _ in range(4)]
    chunks = [[logs[i % 4].message(e) for e in burst[i::8]] for i in range(8)]
    chunks = [
        [dataclasses.replace(m, topic=f"{m.topic}-{i}") for m in chunk]
        for i, chunk in enumerate(chunks)
    ]
    started = time.perf_counter()
    await asyncio.gather(*(harness.deliver(chunk) for chunk in chunks))
    elapsed = time.perf_counter() - started
    print(f"burst: {len(burst)} messages in {elapsed:.3f}s ({len(burst) / elapsed:.0f}/s)")

    availability = await harness.availability(event_id)
    for ticket_type_id, level in newest.items():
        got = availability[ticket_type_id]
        assert got["available"] == got["quantity"] - got["reserved"] - got["sold"]
        assert {k: got[k] for k in level} == level
    generation = await harness.store.active_generation()
    harness.hot.serving = generation
    popular = dict(await harness.hot.popular_events(generation, 10))
    assert popular[event_id] == sum(level["sold"] for level in newest.values())


@st.composite
def stock_levels(draw):
    versions = draw(st.lists(st.integers(0, 30), min_size=1, max_size=15))
    provisional_seed = draw(st.booleans())
    return versions, provisional_seed


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(history=stock_levels())
async def test_redis_stock_guard_never_moves_backwards(harness, history):
    versions, provisional_seed = history
    keys = harness.hot.keys(999)
    event_id, ticket_type_id = uuid4(), uuid4()

    def level(version, provisional=False):
        sold = version
        return Stock(event_id, ticket_type_id, 100, 1, sold, 99 - sold, version, provisional)

    if provisional_seed:
        await harness.hot.set_stock(keys, level(0, provisional=True))
    for version in versions:
        await harness.hot.set_stock(keys, level(version))
    harness.hot.serving = 999
    stored = await harness.hot.availability(999, event_id)
    assert stored[0].stock_version == max(versions)
    assert stored[0].sold == max(versions)
    assert not stored[0].provisional


async def test_wait_for_position_returns_as_soon_as_reached_and_times_out_cleanly(
    harness, scenario
):
    venue = scenario.venue_created()
    await harness.publish(venue)
    assert await harness.waiter.reached(venue.position, 0.5)

    started = time.monotonic()
    assert not await harness.waiter.reached(venue.position + 1, 0.2)
    assert 0.2 <= time.monotonic() - started < 0.5

    later = scenario.venue_created()

    async def publish_soon():
        await asyncio.sleep(0.15)
        await harness.publish(later)
        return time.monotonic()

    publishing = asyncio.create_task(publish_soon())
    assert await harness.waiter.reached(later.position, 2.0)
    returned = time.monotonic()
    assert returned - await publishing < 0.05


async def test_position_waits_for_earlier_messages_in_other_partitions(harness, scenario):
    venue = scenario.venue_created()
    venue_id = scenario.subject_id(venue)
    event_id = uuid4()
    while harness.log.partition_of(str(event_id)) == harness.log.partition_of(str(venue_id)):
        event_id = uuid4()
    show = scenario.event_created(venue_id, event_id=event_id)
    venue_message, show_message = harness.log.messages([venue, show])
    assert venue_message.partition != show_message.partition
    await harness.deliver([show_message])
    assert not await harness.waiter.reached(show.position, 0.1), "venue is still pending"
    await harness.deliver([venue_message])
    assert await harness.waiter.reached(show.position, 0.1)


async def test_min_version_waits_for_the_resource(harness, scenario):
    venue = scenario.venue_created()
    venue_id = scenario.subject_id(venue)
    await harness.publish(venue)
    update = scenario.venue_updated(venue_id, "Later Name")

    async def publish_soon():
        await asyncio.sleep(0.1)
        await harness.publish(update)

    task = asyncio.create_task(publish_soon())
    got = await harness.queries.venue(venue_id, Consistency(min_version=2, wait_ms=2000))
    await task
    assert (got.value.name, got.etag) == ("Later Name", f'"{venue_id}:2"')


async def test_unknown_event_answers_not_found(harness):
    with pytest.raises(NotFoundError):
        await harness.queries.event(uuid4(), NOW)
    with pytest.raises(NotFoundError):
        await harness.queries.booking(UUID(int=1), NOW)


async def test_a_batch_read_at_a_position_other_than_the_stored_one_applies_nothing(
    harness, scenario
):
    _, envelopes = await scripted_history(harness, scenario)
    messages = await harness.publish(*envelopes[:3])
    generation = await harness.store.active_generation()
    before = await dump_tables(harness.pool, generation)
    later = harness.log.messages(envelopes[3:])
    first = later[0]
    # A consumer still holding the previous broker's position (or a replica that lost the
    # partition) hands over a batch that does not continue from what is stored.
    stale = PartitionBatch(
        first.topic,
        first.partition,
        [m for m in later if m.partition == first.partition],
        later[-1].offset + 1,
        continues_from=messages[-1].offset + 40,
    )
    with pytest.raises(PositionMoved):
        await harness.apply_batch(stale, generation=generation)
    assert await dump_tables(harness.pool, generation) == before
