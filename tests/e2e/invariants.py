"""The platform's guarantees, checked after a sale: through the API and, where the API
cannot tell, by reading inventory's stock and the public booking topic directly."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import httpx

from local_infra.stack_state import StackInfo

from .booking_topic import Published, booking_topic, by_booking, read_whole_topic
from .flash_sale_driver import AcceptedBooking
from .platform_api import SETTLED, Show, availability, eventually


async def bookings_of_show(
    client: httpx.AsyncClient, admin: Mapping[str, str], event_id: str
) -> dict[str, dict[str, Any]]:
    """Every booking of the show in the read model (admin list), by id."""
    found: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        response = await client.get(
            "/api/v1/bookings",
            params={"event_id": event_id, "page": page, "size": 100},
            headers=dict(admin),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        for item in body["items"]:
            found[str(item["id"])] = item
        if page * 100 >= body["total"] or not body["items"]:
            return found
        page += 1


async def all_bookings(
    client: httpx.AsyncClient, admin: Mapping[str, str], shows: Iterable[Show]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for show in shows:
        found.update(await bookings_of_show(client, admin, show.event_id))
    return found


async def wait_until_every_booking_is_final(
    client: httpx.AsyncClient,
    admin: Mapping[str, str],
    shows: list[Show],
    accepted: Mapping[str, AcceptedBooking],
    *,
    within: float,
) -> dict[str, dict[str, Any]]:
    """Every 202-accepted booking (and every other the read model lists) reaches a final
    status within `within` seconds, seen through the API; returns the bookings."""
    started = time.monotonic()

    def unsettled(found: dict[str, dict[str, Any]]) -> dict[str, str]:
        pending = {
            booking_id: found.get(booking_id, {}).get("status", "missing")
            for booking_id in accepted
        }
        pending.update({booking_id: item["status"] for booking_id, item in found.items()})
        return {key: status for key, status in pending.items() if status not in SETTLED}

    latest: dict[str, dict[str, Any]] = {}

    async def still_unsettled() -> dict[str, str]:
        latest.clear()
        latest.update(await all_bookings(client, admin, shows))
        return unsettled(latest)

    # On failure the message lists only the bookings still not final.
    await eventually(
        still_unsettled,
        lambda left: not left,
        within=within,
        interval=1.0,
        what="every accepted booking final",
    )
    found = dict(latest)
    # The list is read from PostgreSQL; each booking's own status (Redis) must agree.
    for booking_id in accepted:
        single = await client.get(f"/api/v1/bookings/{booking_id}", headers=dict(admin))
        assert single.status_code == 200, single.text
        assert single.json()["status"] == found[booking_id]["status"], (
            booking_id,
            single.json(),
            found[booking_id],
        )
    sys.stderr.write(f"all bookings final {time.monotonic() - started:.1f}s after the sale\n")
    return found


async def inventory_stock(
    inventory_url: str, event_id: str, headers: Mapping[str, str]
) -> dict[str, dict[str, int]]:
    async with httpx.AsyncClient(
        base_url=inventory_url, timeout=10, headers=dict(headers)
    ) as client:
        response = await client.get(f"/internal/v1/stock/{event_id}")
    assert response.status_code == 200, response.text
    return {
        str(item["ticket_type_id"]): {
            key: item[key] for key in ("quantity", "reserved", "sold", "available")
        }
        for item in response.json()["ticket_types"]
    }


async def check_stock_matches_bookings(
    client: httpx.AsyncClient,
    inventory_url: str,
    shows: list[Show],
    bookings: Mapping[str, Mapping[str, Any]],
    *,
    inventory_headers: Mapping[str, str],
    within: float = 30,
) -> dict[str, dict[str, dict[str, int]]]:
    """No oversell; nothing left reserved; sold == tickets of CONFIRMED bookings; the public
    availability says the same as inventory."""
    confirmed: dict[tuple[str, str], int] = defaultdict(int)
    for item in bookings.values():
        if item["status"] == "CONFIRMED":
            confirmed[(str(item["event_id"]), str(item["ticket_type_id"]))] += item["quantity"]
    stocks: dict[str, dict[str, dict[str, int]]] = {}
    for show in shows:

        async def settled_stock(show: Show = show) -> dict[str, dict[str, int]]:
            return await inventory_stock(inventory_url, show.event_id, inventory_headers)

        def converged(current: dict[str, dict[str, int]], show: Show = show) -> bool:
            # Never oversold at any look; nothing reserved and sold == CONFIRMED once inventory
            # has applied everything (after a broker loss it re-reads the republished log).
            for ticket_type_id, item in current.items():
                taken = item["sold"] + item["reserved"]
                assert 0 <= taken <= item["quantity"], ("oversold", show, ticket_type_id, item)
                assert item["available"] == item["quantity"] - taken, item
            return all(
                item["reserved"] == 0 and item["sold"] == confirmed[(show.event_id, ticket_type_id)]
                for ticket_type_id, item in current.items()
            )

        stock = await eventually(
            settled_stock,
            converged,
            within=within,
            what=(
                f"inventory of {show.event_id} with nothing reserved and sold == the tickets "
                f"of its CONFIRMED bookings {dict(confirmed)}"
            ),
        )

        async def public(show: Show = show) -> dict[str, dict[str, Any]]:
            return await availability(client, show.event_id)

        await eventually(
            public,
            lambda seen, stock=stock: all(  # type: ignore[misc]
                {key: seen.get(tt, {}).get(key) for key in item} == item
                for tt, item in stock.items()
            ),
            within=within,
            what=f"public availability of {show.event_id} equal to inventory's {stock}",
        )
        stocks[show.event_id] = stock
    return stocks


async def check_no_booking_confirmed_twice(
    bootstrap_servers: str, topic_prefix: str, bookings: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[Published]]:
    """On the public topic: one booking.confirmed per booking (redeliveries of the same
    event id aside), never confirmed and rejected/expired, and it matches the read model."""
    lifecycles = by_booking(await read_whole_topic(bootstrap_servers, booking_topic(topic_prefix)))
    problems: list[tuple[str, object]] = []
    for booking_id, messages in lifecycles.items():
        confirmed_ids = {m.event_id for m in messages if m.type == "booking.confirmed"}
        endings = {m.type for m in messages} & {"booking.rejected", "booking.expired"}
        if len(confirmed_ids) > 1 or (confirmed_ids and endings):
            problems.append((booking_id, [(m.type, m.event_id, m.offset) for m in messages]))
        status = bookings.get(booking_id, {}).get("status")
        if status == "CONFIRMED" and len(confirmed_ids) != 1:
            problems.append((booking_id, "CONFIRMED without exactly one booking.confirmed"))
    assert not problems, problems[:10]
    missing = [booking_id for booking_id in bookings if booking_id not in lifecycles]
    assert not missing, ("bookings never published", missing[:10])
    return lifecycles


async def read_model_snapshot(
    client: httpx.AsyncClient, admin: Mapping[str, str], shows: list[Show]
) -> dict[str, Any]:
    """What clients see: availability per show and every booking's status (list and single)."""
    bookings = await all_bookings(client, admin, shows)
    return {
        "availability": {
            show.event_id: await availability(client, show.event_id) for show in shows
        },
        "bookings": {
            booking_id: (item["status"], item["quantity"], item["ticket_type_id"])
            for booking_id, item in bookings.items()
        },
    }


async def rebuild_read_models(env: Mapping[str, str], *, within: float = 120) -> dict[str, Any]:
    """`python -m query_projection rebuild` with the stack's query-projection environment."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "query_projection",
        "rebuild",
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), within)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-4000:]
    report: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    assert report["switched"] is True, report
    return report


async def wait_until_outboxes_published(service_urls: list[str], *, within: float = 120) -> None:
    """Every relay has published all it stored (after a broker loss: its whole log again), by
    each service's `outbox_pending_events` metric."""

    async def pending() -> dict[str, float | None]:
        found: dict[str, float | None] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            for url in service_urls:
                text = (await client.get(f"{url}/metrics")).text
                match = re.search(r"^outbox_pending_events ([0-9.e+]+)$", text, re.MULTILINE)
                found[url] = float(match.group(1)) if match else None
        return found

    await eventually(
        pending,
        lambda found: all(value == 0 for value in found.values()),
        within=within,
        what="every outbox published",
    )


async def payment_ledger(info: StackInfo) -> list[dict[str, Any]]:
    """Every payment intent the provider holds (the simulator's ledger), with its refunds."""
    async with httpx.AsyncClient(
        base_url=info.payment_provider_url, headers=info.payment_provider_headers(), timeout=30
    ) as provider:
        answer = await provider.get("/_sim/ledger")
    assert answer.status_code == 200, answer.text
    intents: list[dict[str, Any]] = answer.json()["payment_intents"]
    return intents


def payment_problems(
    intents: list[dict[str, Any]], bookings: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str, object]]:
    """What the provider's ledger and the bookings disagree on: a booking charged twice,
    a CONFIRMED booking without exactly one capture of its total, a capture of a booking
    that did not end CONFIRMED and is not refunded, an authorisation left open."""
    problems: list[tuple[str, str, object]] = []
    intents_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for intent in intents:
        booking_id = str((intent.get("metadata") or {}).get("booking_id"))
        if booking_id not in bookings:
            problems.append((booking_id, "charged for an unknown booking", intent["id"]))
        intents_of[booking_id].append(intent)
    for booking_id, booking in bookings.items():
        found = intents_of.get(booking_id, [])
        if len(found) > 1:
            problems.append((booking_id, "more than one payment intent", found))
        if booking["status"] == "CONFIRMED":
            total = int(Decimal(str(booking["total_price"])) * 100)
            captured = [
                (intent["amount_received"], intent["amount_refunded"], intent["currency"])
                for intent in found
                if intent["status"] == "succeeded"
            ]
            if captured != [(total, 0, str(booking["currency"]).lower())]:
                problems.append((booking_id, f"CONFIRMED without one capture of {total}", found))
            elif booking.get("payment_reference") != found[0]["id"]:
                problems.append((booking_id, "payment_reference is not the capture", booking))
            continue
        for intent in found:
            if intent["status"] == "requires_capture":
                problems.append((booking_id, f"{booking['status']} left authorised", intent))
            elif intent["amount_received"] != intent["amount_refunded"]:
                problems.append((booking_id, f"{booking['status']} capture not refunded", intent))
    return problems


async def check_payments_match_bookings(
    client: httpx.AsyncClient,
    admin: Mapping[str, str],
    info: StackInfo,
    shows: list[Show],
    *,
    within: float = 90,
) -> list[dict[str, Any]]:
    """Once every booking is final, the provider's ledger agrees with the bookings (see
    `payment_problems`); refunds and cancelled authorisations may still be on their way."""

    async def look() -> tuple[int, list[tuple[str, str, object]]]:
        bookings = await all_bookings(client, admin, shows)
        intents = await payment_ledger(info)
        problems = payment_problems(intents, bookings)
        return len(problems), problems[:10]

    await eventually(
        look,
        lambda seen: seen[0] == 0,
        within=within,
        interval=1.0,
        what="the payment ledger agreeing with the bookings (problems, first ten)",
    )
    intents = await payment_ledger(info)
    sys.stderr.write(f"payment ledger: {len(intents)} intents agree with the bookings\n")
    return intents
