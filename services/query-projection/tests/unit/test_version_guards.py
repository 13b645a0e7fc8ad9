"""Property tests: whatever order and duplication messages arrive in, the newest wins."""

from __future__ import annotations

from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from query_projection.domain.projection import project_stock, seeded_level
from query_projection.domain.versions import is_newer, stock_replaces
from ticketing_contracts.events import StockLevel

EVENT_ID, TICKET_TYPE_ID = uuid4(), uuid4()


@st.composite
def stock_histories(draw):
    """Inventory's stock levels v1..vN, then delivered shuffled, with duplicates and a
    catalog seed (provisional, version 0) somewhere in the stream."""
    quantity = draw(st.integers(min_value=1, max_value=50))
    levels = []
    reserved = sold = 0
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        reserved = draw(st.integers(min_value=0, max_value=quantity - sold))
        sold = draw(st.integers(min_value=sold, max_value=quantity - reserved))
        levels.append(
            StockLevel(
                quantity=quantity,
                reserved=reserved,
                sold=sold,
                available=quantity - reserved - sold,
            )
        )
    versioned = [(level, version, False) for version, level in enumerate(levels, start=1)]
    duplicates = draw(st.lists(st.sampled_from(versioned), max_size=6))
    stream = draw(st.permutations([*versioned, *duplicates, (seeded_level(quantity), 0, True)]))
    return stream, versioned[-1]


@given(stock_histories())
def test_stock_always_ends_at_the_newest_inventory_level(history):
    stream, (newest_level, newest_version, _) = history
    stock = None
    for level, version, provisional in stream:
        stock = project_stock(
            stock, EVENT_ID, TICKET_TYPE_ID, level, version, provisional=provisional
        )
    assert stock is not None
    assert stock.stock_version == newest_version
    assert not stock.provisional
    assert stock.available == newest_level.quantity - newest_level.reserved - newest_level.sold
    assert (stock.reserved, stock.sold) == (newest_level.reserved, newest_level.sold)


@given(st.lists(st.integers(min_value=0, max_value=20), min_size=1))
def test_version_never_moves_backwards(versions):
    stored = None
    for version in versions:
        if is_newer(stored, version):
            stored = version
    assert stored == max(versions)


@given(st.integers(0, 5), st.booleans(), st.integers(0, 5), st.booleans())
def test_provisional_levels_only_fill_gaps(stored, stored_provisional, incoming, provisional):
    replaces = stock_replaces(stored, stored_provisional, incoming, provisional)
    if provisional:
        assert not replaces
    elif stored_provisional:
        assert replaces == (incoming >= stored)
    else:
        assert replaces == (incoming > stored)
