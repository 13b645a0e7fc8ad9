import asyncio
import json
import uuid

VENUE = {"name": "Jazz Cellar", "capacity": 100, "address": "1 Main Street"}


async def published_event(gateway) -> tuple[str, str]:
    admin = await gateway.headers_for("admin")
    venue = (await gateway.client.post("/api/v1/venues", json=VENUE, headers=admin)).json()
    event = (
        await gateway.client.post(
            "/api/v1/events",
            json={
                "venue_id": venue["id"],
                "name": "Late Show",
                "starts_at": "2031-06-01T21:00:00+00:00",
                "ticket_types": [{"name": "Standing", "price": "10.00", "quantity": 10}],
            },
            headers=admin,
        )
    ).json()
    await gateway.client.post(f"/api/v1/events/{event['id']}/publish", headers=admin)
    return event["id"], event["ticket_types"][0]["ticket_type_id"]


def a_booking(event_id: str, ticket_type_id: str, quantity: int = 2) -> dict[str, object]:
    return {
        "event_id": event_id,
        "ticket_type_id": ticket_type_id,
        "quantity": quantity,
        "customer_name": "Zoë O'Brien",
        "customer_email": "Zoe@Example.com",
    }


async def book(gateway, headers, quantity: int = 2) -> dict[str, object]:
    event_id, ticket_type_id = await published_event(gateway)
    response = await gateway.client.post(
        "/api/v1/bookings", json=a_booking(event_id, ticket_type_id, quantity), headers=headers
    )
    assert response.status_code == 202, response.text
    return response.json()


async def test_a_booking_is_accepted_with_its_id_status_and_location(gateway, user_headers) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    response = await gateway.client.post(
        "/api/v1/bookings",
        json=a_booking(event_id, ticket_type_id),
        headers={**user_headers, "Idempotency-Key": "book-1"},
    )
    assert response.status_code == 202
    booking = response.json()
    assert booking["status"] == "PENDING"
    assert response.headers["Location"] == f"/api/v1/bookings/{booking['id']}"
    sent = gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "POST")[-1]
    assert sent.headers["Idempotency-Key"] == "book-1"
    assert json.loads(sent.content)["customer_email"] == "zoe@example.com"


async def test_a_replayed_booking_request_books_once(gateway, user_headers) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    headers = {**user_headers, "Idempotency-Key": "book-twice"}
    body = a_booking(event_id, ticket_type_id)
    first = await gateway.client.post("/api/v1/bookings", json=body, headers=headers)
    second = await gateway.client.post("/api/v1/bookings", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert len(gateway.backend.bookings) == 1


async def test_refuses_a_sold_out_ticket_type_without_touching_the_write_side(
    gateway, user_headers
) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    gateway.backend.availability[event_id] = {ticket_type_id: 0}
    writes_before = len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND))
    response = await gateway.client.post(
        "/api/v1/bookings", json=a_booking(event_id, ticket_type_id), headers=user_headers
    )
    assert response.status_code == 409
    assert response.json()["error_type"] == "sold_out"
    assert len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND)) == writes_before


async def test_refuses_more_tickets_than_are_left(gateway, user_headers) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    gateway.backend.availability[event_id] = {ticket_type_id: 1}
    response = await gateway.client.post(
        "/api/v1/bookings", json=a_booking(event_id, ticket_type_id, 2), headers=user_headers
    )
    assert response.status_code == 409
    assert response.json()["error_type"] == "insufficient_capacity"


async def test_unknown_availability_lets_the_write_side_decide(gateway, user_headers) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    gateway.backend.failing[gateway.backend.QUERY_PROJECTION] = 500
    response = await gateway.client.post(
        "/api/v1/bookings", json=a_booking(event_id, ticket_type_id), headers=user_headers
    )
    assert response.status_code == 202


async def test_write_side_refusals_keep_their_error_type(gateway, user_headers) -> None:
    response = await gateway.client.post(
        "/api/v1/bookings",
        json=a_booking(str(uuid.uuid4()), str(uuid.uuid4())),
        headers=user_headers,
    )
    assert response.status_code == 409
    assert response.json()["error_type"] == "event_not_on_sale"


async def test_refuses_invalid_booking_requests(gateway, user_headers) -> None:
    body = a_booking(str(uuid.uuid4()), str(uuid.uuid4()), quantity=11)
    body["customer_email"] = "nope"
    response = await gateway.client.post("/api/v1/bookings", json=body, headers=user_headers)
    assert response.status_code == 422
    fields = {problem["field"] for problem in response.json()["errors"]}
    assert {"body.quantity", "body.customer_email"} <= fields


async def test_booking_needs_a_login(gateway) -> None:
    response = await gateway.client.post("/api/v1/bookings", json={})
    assert response.status_code == 401


async def test_the_owner_reads_their_booking(gateway, user_headers) -> None:
    booking = await book(gateway, user_headers)
    response = await gateway.client.get(f"/api/v1/bookings/{booking['id']}", headers=user_headers)
    assert response.status_code == 200
    assert response.json()["id"] == booking["id"]
    assert response.headers["Cache-Control"] == "private, no-cache"
    query = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert query.url.params["min_position"] == str(booking["position"])
    etag = response.headers["ETag"]
    again = await gateway.client.get(
        f"/api/v1/bookings/{booking['id']}", headers={**user_headers, "If-None-Match": etag}
    )
    assert again.status_code == 304


async def test_someone_elses_booking_is_not_found(gateway, user_headers) -> None:
    booking = await book(gateway, user_headers)
    other = await gateway.headers_for("user")
    manager = await gateway.headers_for("manager")
    for headers in (other, manager):
        response = await gateway.client.get(f"/api/v1/bookings/{booking['id']}", headers=headers)
        assert response.status_code == 404
        cancel = await gateway.client.post(
            f"/api/v1/bookings/{booking['id']}/cancel", headers=headers
        )
        assert cancel.status_code == 404


async def test_an_admin_reads_anyones_booking(gateway, user_headers, admin_headers) -> None:
    booking = await book(gateway, user_headers)
    response = await gateway.client.get(f"/api/v1/bookings/{booking['id']}", headers=admin_headers)
    assert response.status_code == 200


async def test_the_owner_cancels_their_booking(gateway, user_headers) -> None:
    booking = await book(gateway, user_headers)
    response = await gateway.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "Cannot come"},
        headers=user_headers,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"


async def test_a_user_lists_only_their_own_bookings(gateway) -> None:
    user_id, headers = await gateway.user_with_id()
    await book(gateway, headers)
    await book(gateway, await gateway.headers_for("user"))
    response = await gateway.client.get("/api/v1/bookings", headers=headers)
    assert response.status_code == 200
    assert [item["owner_id"] for item in response.json()["items"]] == [user_id]
    query = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert query.url.params["owner_id"] == user_id


async def test_only_admins_filter_bookings_by_email(gateway, user_headers, admin_headers) -> None:
    refused = await gateway.client.get(
        "/api/v1/bookings?customer_email=zoe@example.com", headers=user_headers
    )
    assert refused.status_code == 403
    allowed = await gateway.client.get(
        "/api/v1/bookings?customer_email=Zoe@example.com", headers=admin_headers
    )
    assert allowed.status_code == 200
    params = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1].url.params
    assert params["customer_email"] == "zoe@example.com"
    assert "owner_id" not in params


async def test_streams_status_changes_until_the_booking_is_final(gateway, user_headers) -> None:
    booking = await book(gateway, user_headers)

    async def settle() -> None:
        await asyncio.sleep(0.05)
        gateway.backend.bookings[booking["id"]]["status"] = "CONFIRMED"

    settling = asyncio.create_task(settle())
    events = []
    async with gateway.client.stream(
        "GET", f"/api/v1/bookings/{booking['id']}/events", headers=user_headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line.removeprefix("data:").strip()))
    await settling
    assert [event["status"] for event in events] == ["PENDING", "CONFIRMED"]
    assert events[-1]["id"] == booking["id"]


async def test_streaming_someone_elses_booking_is_not_found(gateway, user_headers) -> None:
    booking = await book(gateway, user_headers)
    other = await gateway.headers_for("user")
    response = await gateway.client.get(f"/api/v1/bookings/{booking['id']}/events", headers=other)
    assert response.status_code == 404
