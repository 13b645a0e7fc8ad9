"""Sale terms through the gateway: managers set them, fans see why a booking is refused."""

import asyncio
import json

from .test_booking_routes import a_booking, published_event

SALE = {
    "sale_starts_at": "2031-05-01T10:00:00Z",
    "sale_ends_at": None,
    "max_tickets_per_account": 4,
}


async def test_a_manager_sets_an_events_and_a_ticket_types_sale_terms(
    gateway, manager_headers
) -> None:
    event_id, ticket_type_id = await published_event(gateway)

    event_sale = await gateway.client.put(
        f"/api/v1/events/{event_id}/sale", json=SALE, headers=manager_headers
    )
    type_sale = await gateway.client.put(
        f"/api/v1/events/{event_id}/ticket-types/{ticket_type_id}/sale",
        json={"max_tickets_per_account": 2},
        headers=manager_headers,
    )

    assert event_sale.status_code == type_sale.status_code == 200
    assert event_sale.headers["X-Read-Position"] == str(event_sale.json()["position"])
    first, second = gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "PUT")[-2:]
    assert (first.url.path, json.loads(first.content)) == (
        f"/internal/v1/events/{event_id}/sale",
        SALE | {"hold_minutes": None, "waitlist_offer_minutes": None},
    )
    assert second.url.path == f"/internal/v1/events/{event_id}/ticket-types/{ticket_type_id}/sale"
    assert json.loads(second.content) == {
        "sale_starts_at": None,
        "sale_ends_at": None,
        "max_tickets_per_account": 2,
    }


async def test_sale_terms_that_make_no_sense_or_a_fans_change_never_reach_booking_command(
    gateway, manager_headers, user_headers
) -> None:
    event_id, _ = await published_event(gateway)
    calls = len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "PUT"))

    backwards = await gateway.client.put(
        f"/api/v1/events/{event_id}/sale",
        json={"sale_starts_at": "2031-05-02T00:00:00Z", "sale_ends_at": "2031-05-01T00:00:00Z"},
        headers=manager_headers,
    )
    no_limit = await gateway.client.put(
        f"/api/v1/events/{event_id}/sale",
        json={"max_tickets_per_account": 0},
        headers=manager_headers,
    )
    by_a_fan = await gateway.client.put(
        f"/api/v1/events/{event_id}/sale", json=SALE, headers=user_headers
    )

    assert backwards.status_code == 422
    assert "sale_ends_at must be after sale_starts_at" in backwards.json()["detail"]
    assert (no_limit.status_code, no_limit.json()["errors"][0]["field"]) == (
        422,
        "body.max_tickets_per_account",
    )
    assert by_a_fan.status_code == 403
    assert len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "PUT")) == calls


async def test_each_fan_in_a_batch_is_told_when_the_sale_opens(gateway_factory) -> None:
    async with gateway_factory(availability_cache_ttl_seconds=0) as gateway:
        event_id, ticket_type_id = await published_event(gateway)
        manager = await gateway.headers_for("manager")
        await gateway.client.put(f"/api/v1/events/{event_id}/sale", json=SALE, headers=manager)
        fans = [await gateway.user_with_id() for _ in range(4)]
        gateway.backend.delay_seconds = 0.05

        answers = await asyncio.gather(
            *(
                gateway.client.post(
                    "/api/v1/bookings", json=a_booking(event_id, ticket_type_id), headers=headers
                )
                for _, headers in fans
            )
        )

        assert gateway.backend.batches(), "some of them left as one batch"
        assert [answer.status_code for answer in answers] == [409] * len(fans)
        assert all(
            answer.json()
            == {
                "detail": "not on sale now",
                "error_type": "not_on_sale",
                "sale_starts_at": "2031-05-01T10:00:00Z",
                "sale_ends_at": None,
            }
            for answer in answers
        )
