"""Fairness (issue 22): fans who join before the start go in in a uniformly random order,
whenever they joined; fans who join after it go in in arrival order, behind them; one place
per account. The use cases on fakes (an in-memory store on the test's clock, a seeded random
source), so thousands of sales can be run."""

from __future__ import annotations

import itertools
from collections import Counter

from gateway.domain.waiting_room import PlaceState

from .waiting_rooms import START, Rooms, fan, rooms_on_fakes

# Chi-square critical values at p = 0.001 (the test fails by chance once in a thousand seeds;
# the seed is fixed, so it is deterministic).
CHI_SQUARE_0_001 = {3: 16.27, 23: 49.73}


def chi_square(observed: Counter[object], categories: list[object]) -> float:
    expected = sum(observed.values()) / len(categories)
    return sum((observed[category] - expected) ** 2 / expected for category in categories)


async def admission_order(rooms: Rooms, names: list[str], *, join_gap: float) -> list[str]:
    """One sale: the fans join in this order before the start; the order they go in."""
    rooms.clock.now = START - 300
    event_id = await rooms.open_room()
    tokens = {}
    for name in names:
        tokens[name] = (await rooms.rooms.join(fan(name), event_id)).token
        rooms.clock.advance(join_gap)
    rooms.clock.now = START
    await rooms.admit_everyone(rounds=2)
    passes = {}
    for name in names:
        view = (await rooms.rooms.place(tokens[name], name)).view
        assert view.state is PlaceState.ADMITTED
        passes[name] = view.pass_number
    await rooms.rooms.close(event_id)
    return sorted(names, key=lambda name: passes[name])


async def test_fans_who_join_before_the_start_go_in_in_a_uniformly_random_order() -> None:
    rooms = rooms_on_fakes(seed=20_261_207)
    names = ["first", "second", "third", "fourth"]
    trials = 4_800
    orders: Counter[object] = Counter()
    first_joiner_went_in: Counter[object] = Counter()
    for _ in range(trials):
        order = await admission_order(rooms, names, join_gap=30)
        orders[tuple(order)] += 1
        first_joiner_went_in[order.index("first")] += 1

    every_order: list[object] = list(itertools.permutations(names))
    assert set(orders) == set(every_order)  # all 24 orders happen
    assert chi_square(orders, every_order) < CHI_SQUARE_0_001[23]
    # Joining 90 seconds before the others is no head start: any turn, equally often.
    assert chi_square(first_joiner_went_in, [0, 1, 2, 3]) < CHI_SQUARE_0_001[3]


async def test_the_shuffle_is_drawn_afresh_for_every_sale() -> None:
    rooms = rooms_on_fakes(seed=7)
    names = ["ada", "bo", "cy"]
    orders = {tuple(await admission_order(rooms, names, join_gap=1)) for _ in range(30)}
    assert len(orders) > 1


async def test_fans_who_join_after_the_start_go_in_in_arrival_order_behind_the_early_ones() -> None:
    rooms = rooms_on_fakes()
    event_id = await rooms.open_room(admission_per_minute=60, max_admitted_at_once=100)
    early = [f"early-{n}" for n in range(5)]
    late = [f"late-{n}" for n in range(20)]
    tokens = {}
    for name in early:
        tokens[name] = (await rooms.rooms.join(fan(name), event_id)).token
    rooms.clock.now = START + 0.5
    for name in late:
        tokens[name] = (await rooms.rooms.join(fan(name), event_id)).token
        rooms.clock.advance(0.01)

    went_in: list[str] = []
    for _ in range(40):  # one fan a second
        rooms.clock.advance(1)
        await rooms.rooms.admission_round()
        for name in early + late:
            view = (await rooms.rooms.place(tokens[name], name)).view
            if view.state is PlaceState.ADMITTED and name not in went_in:
                went_in.append(name)

    assert sorted(went_in[:5]) == early
    assert went_in[5:] == late


async def test_nobody_goes_in_before_the_start() -> None:
    rooms = rooms_on_fakes()
    event_id = await rooms.open_room()
    joined = await rooms.rooms.join(fan("keen"), event_id)
    await rooms.admit_everyone(rounds=10)  # still 590 s before the start

    view = (await rooms.rooms.place(joined.token, "keen")).view
    assert view.state is PlaceState.WAITING
    assert view.order_decided_at_start
    assert view.position is None
    assert view.estimated_wait_seconds is not None
    assert view.estimated_wait_seconds >= START - rooms.clock.now


async def test_one_place_per_account_joining_again_gives_the_same_place() -> None:
    rooms = rooms_on_fakes()
    event_id = await rooms.open_room(sale_starts_at=None)
    first = await rooms.rooms.join(fan("sam"), event_id)
    rooms.clock.advance(5)
    again = await rooms.rooms.join(fan("sam"), event_id)
    await rooms.rooms.join(fan("kim"), event_id)

    assert first.new
    assert not again.new
    assert again.token == first.token
    assert (await rooms.store.figures(event_id)).waiting == 2  # type: ignore[union-attr]


async def test_a_fan_whose_pass_is_used_up_queues_again_at_the_back() -> None:
    rooms = rooms_on_fakes()
    event_id = await rooms.open_room(sale_starts_at=None, booking_attempts_per_pass=1)
    first = await rooms.rooms.join(fan("sam"), event_id)
    await rooms.admit_everyone(rounds=1)
    admitted = await rooms.rooms.place(first.token, "sam")
    assert admitted.pass_token is not None
    await rooms.rooms.check_booking(fan("sam"), event_id, admitted.pass_token, None)
    await rooms.rooms.join(fan("kim"), event_id)

    again = await rooms.rooms.join(fan("sam"), event_id)

    assert again.new
    assert (await rooms.rooms.place(first.token, "sam")).view.state is PlaceState.CLOSED
    view = (await rooms.rooms.place(again.token, "sam")).view
    assert (view.state, view.position) == (PlaceState.WAITING, 2)
