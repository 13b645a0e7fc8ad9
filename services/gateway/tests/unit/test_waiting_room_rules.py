"""The waiting room's pure rules: the admission budget, the adaptive rate, honest waits, what
a place says; and the signed place and pass tokens."""

from __future__ import annotations

import uuid

import pytest

from gateway.adapters.waiting_room_tokens import HmacRoomTokens
from gateway.application.waiting_room import InvalidRoomToken, PassToken, PlaceToken
from gateway.domain.waiting_room import (
    MIN_RATE_FACTOR,
    Admitted,
    Bucket,
    Gone,
    PlaceState,
    RateFactor,
    RoomFigures,
    RoomSettings,
    Waiting,
    adapted,
    admission_cap,
    admissions,
    arrival_score,
    estimated_wait_seconds,
    place_view,
    refilled,
    shuffled_score,
)


def figures(**changes: object) -> RoomFigures:
    values: dict[str, object] = {
        "room_id": "r1",
        "settings": RoomSettings(None, 120, 50, 10, 3),
        "paused": False,
        "sold_out": False,
        "tickets_left": 400,
        "rate_factor": 1.0,
        "waiting": 100,
        "shuffled_waiting": 0,
        "admitted_now": 10,
        "admitted_total": 10,
    }
    values.update(changes)
    return RoomFigures(**values)  # type: ignore[arg-type]


def test_the_budget_grows_with_the_rate_and_holds_at_most_a_burst() -> None:
    bucket = refilled(Bucket(0, 100.0), 100.5, rate_per_minute=120)
    assert bucket.tokens == pytest.approx(1.0)
    idle = refilled(Bucket(0, 100.0), 10_000.0, rate_per_minute=120)
    assert idle.tokens == pytest.approx(4.0)  # two seconds' worth, not hours'
    assert refilled(Bucket(0, 0), 3600, rate_per_minute=6).tokens == 1.0  # at least one


def test_admissions_are_bounded_by_the_budget_the_cap_and_the_queue() -> None:
    assert admissions(Bucket(5.9, 0), waiting=100, admitted_now=0, cap=50) == 5
    assert admissions(Bucket(50, 0), waiting=100, admitted_now=48, cap=50) == 2
    assert admissions(Bucket(50, 0), waiting=3, admitted_now=0, cap=50) == 3
    assert admissions(Bucket(50, 0), waiting=3, admitted_now=60, cap=50) == 0


def test_never_more_fans_in_at_once_than_tickets_left() -> None:
    assert admission_cap(500, None) == 500
    assert admission_cap(500, 12) == 12
    assert admission_cap(500, 0) == 0


def test_pressure_halves_the_rate_at_most_once_a_second_and_it_grows_back_slowly() -> None:
    factor = RateFactor(1.0, 0.0, 0.0)
    factor = adapted(factor, 10.0, pressure=True, recovery_seconds=60)
    assert factor.value == 0.5
    factor = adapted(factor, 10.4, pressure=True, recovery_seconds=60)
    assert factor.value == 0.5  # two replicas reporting the same pressure: one cut
    factor = adapted(factor, 11.0, pressure=True, recovery_seconds=60)
    assert factor.value == 0.25
    factor = adapted(factor, 26.0, pressure=False, recovery_seconds=60)
    assert factor.value == pytest.approx(0.5)
    factor = adapted(factor, 1000.0, pressure=False, recovery_seconds=60)
    assert factor.value == 1.0
    for second in range(20):
        factor = adapted(factor, 2000.0 + second, pressure=True, recovery_seconds=60)
    assert factor.value == MIN_RATE_FACTOR


def test_scores_put_every_early_fan_before_every_late_one() -> None:
    assert shuffled_score(0) == 0.0
    assert shuffled_score(2**52 - 1) < 1.0 <= arrival_score(0) < arrival_score(1)
    with pytest.raises(ValueError, match="52 bits"):
        shuffled_score(2**52)


def test_the_wait_is_what_the_current_throughput_gives() -> None:
    assert estimated_wait_seconds(59, throughput_per_minute=60, seconds_to_start=0) == 59
    assert estimated_wait_seconds(10, throughput_per_minute=60, seconds_to_start=30) == 40
    assert estimated_wait_seconds(10, throughput_per_minute=0, seconds_to_start=0) is None


def test_a_full_room_expects_places_to_free_up_only_as_sessions_end() -> None:
    full = figures(admitted_now=50)
    assert full.throughput_per_minute() == 5.0  # 50 places per 10-minute session
    assert figures().throughput_per_minute() == 120.0
    assert figures(paused=True).throughput_per_minute() == 0.0


def test_a_waiting_place_says_its_position_and_an_honest_wait() -> None:
    view = place_view(figures(), Waiting(rank=59, shuffled=False), now=0, sale_starts_at=None)
    assert (view.state, view.position, view.ahead) == (PlaceState.WAITING, 60, 59)
    assert view.estimated_wait_seconds == 30  # 59 ahead at 2 a second
    assert view.poll_after_seconds == 3


def test_before_the_start_an_early_place_says_its_order_is_drawn_at_the_start() -> None:
    room = figures(shuffled_waiting=201)
    view = place_view(room, Waiting(rank=3, shuffled=True), now=0, sale_starts_at=600)
    assert view.order_decided_at_start
    assert (view.position, view.ahead) == (None, None)
    assert view.estimated_wait_seconds == 600 + 50  # the start, then 100 ahead on average
    after = place_view(room, Waiting(rank=3, shuffled=True), now=601, sale_starts_at=600)
    assert (after.position, after.order_decided_at_start) == (4, False)


def test_everyone_waiting_is_told_the_sale_is_sold_out() -> None:
    view = place_view(
        figures(sold_out=True, tickets_left=0), Waiting(0, False), now=0, sale_starts_at=None
    )
    assert view.state is PlaceState.SOLD_OUT
    assert view.estimated_wait_seconds is None
    assert view.tickets_left == 0


def test_an_admitted_place_holds_a_pass_until_its_session_ends_or_its_attempts_are_used() -> None:
    live = place_view(figures(), Admitted(7, 500.0, 2), now=100, sale_starts_at=None)
    assert (live.state, live.pass_number, live.attempts_left) == (PlaceState.ADMITTED, 7, 2)
    ended = place_view(figures(), Admitted(7, 500.0, 2), now=500, sale_starts_at=None)
    used = place_view(figures(), Admitted(7, 500.0, 0), now=100, sale_starts_at=None)
    assert ended.state is used.state is PlaceState.EXPIRED
    assert ended.pass_number is None
    gone = place_view(None, Waiting(0, False), now=0, sale_starts_at=None)
    assert gone.state is PlaceState.CLOSED
    assert place_view(figures(), Gone(), now=0, sale_starts_at=None).state is PlaceState.CLOSED


TOKENS = HmacRoomTokens.from_secret("a-test-key-for-waiting-room-tokens-0123456789")
PLACE = PlaceToken(uuid.uuid4(), "a1b2c3", str(uuid.uuid4()), "Xy_-z09")
PASS = PassToken(uuid.uuid4(), "a1b2c3", str(uuid.uuid4()), 42, 1_900_000_000)


def test_tokens_read_back_what_was_signed() -> None:
    assert TOKENS.read_place(TOKENS.sign_place(PLACE)) == PLACE
    assert TOKENS.read_pass(TOKENS.sign_pass(PASS)) == PASS


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        lambda token: token.replace("p1.", "a1.", 1),
        lambda token: "x" + token,
        lambda token: token + ".more",
        lambda token: "",
    ],
)
def test_a_changed_token_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRoomToken):
        TOKENS.read_place(tamper(TOKENS.sign_place(PLACE)))


def test_a_place_token_is_not_a_pass_nor_another_gateways() -> None:
    with pytest.raises(InvalidRoomToken):
        TOKENS.read_pass(TOKENS.sign_place(PLACE))
    other = HmacRoomTokens.from_secret("another-key-for-waiting-room-tokens-9876543210")
    with pytest.raises(InvalidRoomToken):
        other.read_pass(TOKENS.sign_pass(PASS))
