from __future__ import annotations

from query_projection.domain.positions import PartitionProgress, position_reached

CATALOG, BOOKING = "catalog", "booking"


def progress(topic, partition, next_offset, last_position):
    return PartitionProgress(topic, partition, next_offset, last_position, None)


def test_not_reached_before_any_partition_has_applied_the_position():
    applied = [progress(CATALOG, 0, 5, 9), progress(BOOKING, 0, 3, 7)]
    ends = {(CATALOG, 0): 5, (BOOKING, 0): 3}
    assert not position_reached(10, applied, ends)


def test_reached_when_every_partition_has_it_or_is_drained():
    applied = [progress(CATALOG, 0, 6, 10), progress(BOOKING, 0, 3, 7)]
    ends = {(CATALOG, 0): 6, (BOOKING, 0): 3, (BOOKING, 1): 0}
    assert position_reached(10, applied, ends)


def test_not_reached_while_another_partition_has_earlier_messages_pending():
    applied = [progress(CATALOG, 0, 6, 10), progress(CATALOG, 1, 2, 8)]
    ends = {(CATALOG, 0): 6, (CATALOG, 1): 3}
    assert not position_reached(10, applied, ends)


def test_partition_past_the_position_does_not_need_draining():
    applied = [progress(CATALOG, 0, 6, 10), progress(CATALOG, 1, 2, 12)]
    ends = {(CATALOG, 0): 9, (CATALOG, 1): 3}
    assert position_reached(10, applied, ends)
