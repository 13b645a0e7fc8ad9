"""How the queued on-sale bench reads wrk's per-second counts: the poll rate once the
crowd has joined, and the busiest five seconds of bookings offered to the booking path."""

from __future__ import annotations

from bench.queued_on_sale import offered_beyond_admissions, offered_peak, poll_rate


def test_the_poll_rate_counts_only_whole_seconds_after_everyone_joined() -> None:
    rows = [(100, 5, 0), (101, 50, 0), (102, 400, 0), (103, 600, 2), (104, 800, 1), (105, 9, 0)]

    # 101.5: seconds 102-104 are after it; 105 (the last, partial) is left out.
    assert poll_rate(rows, since=101.5) == 600.0


def test_no_poll_rate_when_the_crowd_never_finished_joining() -> None:
    assert poll_rate([(100, 5, 0), (101, 50, 0), (102, 60, 0)], since=None) == 0.0


def test_the_peak_of_bookings_offered_is_the_busiest_five_seconds() -> None:
    rows = [
        (second, 100, booked)
        for second, booked in zip(range(10, 20), [0, 5, 30, 30, 30, 30, 30, 0, 0, 1], strict=True)
    ]

    assert offered_peak(rows) == 30.0


def test_seconds_with_nothing_counted_lower_the_peak() -> None:
    # Seconds 11-14 had no response at all: they count as none offered.
    assert offered_peak([(10, 1, 50), (15, 1, 50)]) == 10.0


def test_bookings_within_what_the_room_admitted_exceed_nothing() -> None:
    rows = [(100, 10, 2), (101, 10, 3), (102, 10, 5)]
    samples = [{"at": 100.5, "admitted_total": 4}, {"at": 101.5, "admitted_total": 10}]

    assert offered_beyond_admissions(rows, samples) == 0


def test_bookings_beyond_what_the_room_admitted_are_counted() -> None:
    rows = [(100, 10, 2), (101, 10, 3), (102, 10, 9)]
    samples = [{"at": 100.5, "admitted_total": 5}, {"at": 103.5, "admitted_total": 10}]

    # By second 102, 14 bookings against 10 admitted.
    assert offered_beyond_admissions(rows, samples) == 4
