import asyncio
import json
import uuid

import pytest

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
        "payment_token": "tok_visa",
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
    assert json.loads(sent.content)["payment_token"] == "tok_visa"


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


@pytest.mark.parametrize("token", [None, "", "tok visa", "x" * 256])
async def test_refuses_a_booking_without_a_usable_payment_token(
    gateway, user_headers, token
) -> None:
    body = a_booking(str(uuid.uuid4()), str(uuid.uuid4()))
    if token is None:
        del body["payment_token"]
    else:
        body["payment_token"] = token
    response = await gateway.client.post("/api/v1/bookings", json=body, headers=user_headers)
    assert response.status_code == 422
    assert "body.payment_token" in {problem["field"] for problem in response.json()["errors"]}
    assert gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "POST") == []


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


# Concurrent booking requests leave the gateway as one batch; each client gets its own answer.


async def book_concurrently(gateway, bodies, headers_list):
    return await asyncio.gather(
        *(
            gateway.client.post("/api/v1/bookings", json=body, headers=headers)
            for body, headers in zip(bodies, headers_list, strict=True)
        )
    )


async def test_concurrent_bookings_reach_booking_command_in_fewer_calls(gateway_factory) -> None:
    async with gateway_factory(availability_cache_ttl_seconds=0) as gateway:
        event_id, ticket_type_id = await published_event(gateway)
        users = [await gateway.user_with_id() for _ in range(6)]
        gateway.backend.delay_seconds = 0.05
        writes_before = len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "POST"))
        answers = await book_concurrently(
            gateway,
            [a_booking(event_id, ticket_type_id)] * len(users),
            [headers for _, headers in users],
        )
        assert [answer.status_code for answer in answers] == [202] * len(users)
        ids = [answer.json()["id"] for answer in answers]
        assert len(set(ids)) == len(users)
        for (user_id, _), answer in zip(users, answers, strict=True):
            assert answer.json()["owner_id"] == user_id
            assert answer.headers["Location"] == f"/api/v1/bookings/{answer.json()['id']}"
            assert int(answer.headers["X-Read-Position"]) == answer.json()["position"]
        writes = len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "POST"))
        assert writes - writes_before < len(users)
        assert sum(len(batch) for batch in gateway.backend.batches()) >= 2
        batched = [item["command"] for batch in gateway.backend.batches() for item in batch]
        assert {command["payment_token"] for command in batched} == {"tok_visa"}


async def test_a_lone_booking_is_sent_at_once_as_a_plain_request(gateway, user_headers) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    response = await gateway.client.post(
        "/api/v1/bookings", json=a_booking(event_id, ticket_type_id), headers=user_headers
    )
    assert response.status_code == 202
    assert gateway.backend.batches() == []


async def test_batches_are_bounded(gateway_factory) -> None:
    async with gateway_factory(availability_cache_ttl_seconds=0, booking_batch_max_size=2) as gw:
        event_id, ticket_type_id = await published_event(gw)
        _, headers = await gw.user_with_id()
        gw.backend.delay_seconds = 0.05
        answers = await book_concurrently(
            gw, [a_booking(event_id, ticket_type_id)] * 7, [headers] * 7
        )
        assert [answer.status_code for answer in answers] == [202] * 7
        assert gw.backend.batches()
        assert all(len(batch) <= 2 for batch in gw.backend.batches())


async def test_each_client_gets_its_own_refusal_from_a_batch(gateway_factory) -> None:
    async with gateway_factory(availability_cache_ttl_seconds=0) as gateway:
        event_id, ticket_type_id = await published_event(gateway)
        _, headers = await gateway.user_with_id()
        gateway.backend.delay_seconds = 0.05
        not_on_sale = a_booking(str(uuid.uuid4()), ticket_type_id)
        bodies = [a_booking(event_id, ticket_type_id), not_on_sale] * 3
        answers = await book_concurrently(gateway, bodies, [headers] * len(bodies))
        assert [answer.status_code for answer in answers] == [202, 409] * 3
        assert {answers[i].json()["error_type"] for i in (1, 3, 5)} == {"event_not_on_sale"}
        assert gateway.backend.batches()


async def test_a_failed_batch_call_answers_every_request_in_it_like_an_outage(
    gateway_factory,
) -> None:
    async with gateway_factory(availability_cache_ttl_seconds=0, breaker_fail_max=50) as gateway:
        event_id, ticket_type_id = await published_event(gateway)
        _, headers = await gateway.user_with_id()
        gateway.backend.delay_seconds = 0.05
        gateway.backend.failing[gateway.backend.BOOKING_COMMAND] = 500
        answers = await book_concurrently(
            gateway, [a_booking(event_id, ticket_type_id)] * 5, [headers] * 5
        )
        assert [answer.status_code for answer in answers] == [503] * 5
        assert all("Retry-After" in answer.headers for answer in answers)
        assert {answer.json()["error_type"] for answer in answers} == {"upstream_error"}
        assert len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "POST")) < 8


async def test_each_caller_reads_their_own_write_after_a_batch(gateway_factory) -> None:
    async with gateway_factory(availability_cache_ttl_seconds=0) as gateway:
        event_id, ticket_type_id = await published_event(gateway)
        users = [await gateway.user_with_id() for _ in range(3)]
        gateway.backend.delay_seconds = 0.05
        answers = await book_concurrently(
            gateway,
            [a_booking(event_id, ticket_type_id)] * 3,
            [headers for _, headers in users],
        )
        gateway.backend.delay_seconds = 0
        for (_, headers), answer in zip(users, answers, strict=True):
            booking = answer.json()
            await gateway.client.get(f"/api/v1/bookings/{booking['id']}", headers=headers)
            query = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION, "GET")[-1]
            assert query.url.params["min_position"] == str(booking["position"])


async def _until(condition) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the slots have no event to wait on
            await asyncio.sleep(0.01)


async def test_a_user_over_the_stream_cap_gets_429_and_slots_free_when_streams_end(
    gateway_factory,
) -> None:
    async with gateway_factory(sse_max_streams_per_user=2) as gateway:
        headers = await gateway.headers_for("user")
        booking = await book(gateway, headers)
        path = f"/api/v1/bookings/{booking['id']}/events"
        slots = gateway.app.state.stream_slots

        async def hold_stream() -> int:
            async with gateway.client.stream("GET", path, headers=headers) as response:
                async for _ in response.aiter_lines():
                    pass
                return response.status_code

        streams = [asyncio.create_task(hold_stream()) for _ in range(2)]
        await _until(lambda: slots.open == 2)
        refused = await gateway.client.get(path, headers=headers)
        assert refused.status_code == 429
        assert refused.json()["error_type"] == "rate_limited"
        assert "retry-after" in refused.headers

        gateway.backend.bookings[booking["id"]]["status"] = "CONFIRMED"
        assert await asyncio.gather(*streams) == [200, 200]
        await _until(lambda: slots.open == 0)


async def test_a_gateway_over_its_stream_cap_answers_503(gateway_factory) -> None:
    async with gateway_factory(sse_max_streams_per_pod=1) as gateway:
        headers = await gateway.headers_for("user")
        booking = await book(gateway, headers)
        gateway.app.state.stream_slots.acquire("someone-else")
        response = await gateway.client.get(
            f"/api/v1/bookings/{booking['id']}/events", headers=headers
        )
        assert response.status_code == 503
