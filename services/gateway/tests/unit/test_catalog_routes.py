import asyncio
import uuid

import pytest

from service_kit.internal_auth import InternalTokenVerifier, public_key_text_of

VENUE = {"name": "Royal Albert Hall", "capacity": 5272, "address": "Kensington Gore, London"}
EVENT_STARTS = "2031-06-01T19:30:00+00:00"


def an_event(venue_id: str) -> dict[str, object]:
    return {
        "venue_id": venue_id,
        "name": "Flash Sale Live",
        "starts_at": EVENT_STARTS,
        "ticket_types": [{"name": "Stalls", "price": "49.50", "currency": "EUR", "quantity": 10}],
    }


async def create_venue(gateway, headers) -> dict[str, object]:
    response = await gateway.client.post("/api/v1/venues", json=VENUE, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def public_key_of(gateway) -> str:
    return public_key_text_of(gateway.settings.internal_token_private_key.get_secret_value())


async def test_creates_a_venue_with_location_and_read_position(gateway, manager_headers) -> None:
    response = await gateway.client.post("/api/v1/venues", json=VENUE, headers=manager_headers)
    assert response.status_code == 201
    venue = response.json()
    assert venue["name"] == VENUE["name"]
    assert response.headers["Location"] == f"/api/v1/venues/{venue['id']}"
    assert response.headers["X-Read-Position"] == str(venue["position"])
    forwarded = gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "POST")[-1]
    assert forwarded.url.path == "/internal/v1/venues"
    assert "X-Caller-Role" not in forwarded.headers
    verifier = InternalTokenVerifier.from_text(public_key_of(gateway), "booking-command")
    token = forwarded.headers["Authorization"].removeprefix("Bearer ")
    caller = verifier.verify(token)
    assert caller.role == "manager"
    assert caller.id


async def test_public_reads_carry_an_anonymous_gateway_token(gateway, manager_headers) -> None:
    await gateway.client.get("/api/v1/venues")
    forwarded = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION, "GET")[-1]
    verifier = InternalTokenVerifier.from_text(public_key_of(gateway), "query-projection")
    caller = verifier.verify(forwarded.headers["Authorization"].removeprefix("Bearer "))
    assert (caller.id, caller.role) == (None, "anonymous")


async def test_a_read_after_a_write_waits_for_the_writes_position(gateway, manager_headers) -> None:
    venue = await create_venue(gateway, manager_headers)
    response = await gateway.client.get(f"/api/v1/venues/{venue['id']}", headers=manager_headers)
    assert response.status_code == 200
    query = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert query.url.params["min_position"] == str(venue["position"])
    assert query.url.params["wait_ms"] == str(gateway.settings.read_wait_ms)


async def test_an_anonymous_read_ignores_a_read_position(gateway) -> None:
    response = await gateway.client.get(
        "/api/v1/events", headers={"X-Read-Position": "999999999999"}
    )
    assert response.status_code == 200
    query = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert "min_position" not in query.url.params


async def test_a_read_position_ahead_of_every_write_is_refused_at_once(
    gateway, manager_headers, user_headers
) -> None:
    venue = await create_venue(gateway, manager_headers)
    queries_before = len(gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION))
    response = await gateway.client.get(
        "/api/v1/events",
        headers={**user_headers, "X-Read-Position": str(int(venue["position"]) + 1)},
    )
    assert response.status_code == 422
    assert response.json()["error_type"] == "read_position_ahead"
    assert len(gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)) == queries_before


async def test_a_signed_in_read_can_wait_for_a_position_someone_else_wrote(
    gateway, manager_headers, user_headers
) -> None:
    venue = await create_venue(gateway, manager_headers)
    response = await gateway.client.get(
        "/api/v1/venues", headers={**user_headers, "X-Read-Position": str(venue["position"])}
    )
    assert response.status_code == 200
    query = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert query.url.params["min_position"] == str(venue["position"])


async def test_updates_and_deletes_a_venue(gateway, admin_headers) -> None:
    venue = await create_venue(gateway, admin_headers)
    updated = await gateway.client.put(
        f"/api/v1/venues/{venue['id']}", json={**VENUE, "capacity": 100}, headers=admin_headers
    )
    assert updated.status_code == 200
    assert updated.json()["capacity"] == 100
    deleted = await gateway.client.delete(f"/api/v1/venues/{venue['id']}", headers=admin_headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await gateway.client.get(f"/api/v1/venues/{venue['id']}", headers=admin_headers)
    assert gone.status_code == 404
    assert gone.json()["error_type"] == "not_found"
    query = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert query.url.params["min_position"] == deleted.headers["X-Read-Position"]


async def test_updating_an_unknown_venue_is_404(gateway, admin_headers) -> None:
    response = await gateway.client.put(
        f"/api/v1/venues/{uuid.uuid4()}", json=VENUE, headers=admin_headers
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VENUE, "capacity": 0}, "body.capacity"),
        ({**VENUE, "name": ""}, "body.name"),
        ({**VENUE, "owner": "me"}, "body.owner"),
        ({"name": "x"}, "body.capacity"),
    ],
)
async def test_refuses_invalid_venues_before_calling_the_write_side(
    gateway, manager_headers, body, field
) -> None:
    response = await gateway.client.post("/api/v1/venues", json=body, headers=manager_headers)
    assert response.status_code == 422
    assert field in {problem["field"] for problem in response.json()["errors"]}
    assert gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND) == []


async def test_a_venue_id_must_be_a_uuid(gateway) -> None:
    response = await gateway.client.get("/api/v1/venues/not-a-uuid")
    assert response.status_code == 422


async def test_lists_venues_with_pagination(gateway, manager_headers) -> None:
    await create_venue(gateway, manager_headers)
    response = await gateway.client.get("/api/v1/venues?page=2&size=5")
    assert response.status_code == 200
    assert set(response.json()) >= {"items", "page", "size", "total"}
    query = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert (query.url.params["page"], query.url.params["size"]) == ("2", "5")
    too_big = await gateway.client.get("/api/v1/venues?size=1000")
    assert too_big.status_code == 422


async def test_public_reads_are_cacheable_and_revalidate_with_etag(
    gateway, manager_headers
) -> None:
    venue = await create_venue(gateway, manager_headers)
    first = await gateway.client.get(f"/api/v1/venues/{venue['id']}")
    assert first.status_code == 200
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    etag = first.headers["ETag"]
    second = await gateway.client.get(
        f"/api/v1/venues/{venue['id']}", headers={"If-None-Match": etag}
    )
    assert second.status_code == 304
    assert second.headers["ETag"] == etag
    assert second.content == b""


async def test_concurrent_anonymous_reads_share_one_call_and_keep_the_etag(
    gateway, manager_headers
) -> None:
    venue = await create_venue(gateway, manager_headers)
    path = f"/api/v1/venues/{venue['id']}"
    calls_before = len(gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION))
    gateway.backend.delay_seconds = 0.05
    answers = await asyncio.gather(*(gateway.client.get(path) for _ in range(5)))
    assert [answer.status_code for answer in answers] == [200] * 5
    assert len({answer.headers["ETag"] for answer in answers}) == 1
    assert len(gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)) == calls_before + 1
    revalidated = await gateway.client.get(
        path, headers={"If-None-Match": answers[0].headers["ETag"]}
    )
    assert revalidated.status_code == 304


async def test_a_shared_answer_is_fetched_again_once_no_longer_fresh(gateway_factory) -> None:
    async with gateway_factory(public_read_fresh_seconds=0.05) as gateway:
        manager = await gateway.headers_for("manager")
        venue = await create_venue(gateway, manager)
        path = f"/api/v1/venues/{venue['id']}"
        await gateway.client.get(path)
        calls = len(gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION))
        await gateway.client.put(path, json={**VENUE, "capacity": 7}, headers=manager)
        await asyncio.sleep(0.05)
        changed = await gateway.client.get(path)
        assert changed.json()["capacity"] == 7
        assert len(gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)) == calls + 1


async def test_a_caller_with_a_pending_write_is_not_served_a_shared_answer(
    gateway, manager_headers
) -> None:
    venue = await create_venue(gateway, manager_headers)
    path = f"/api/v1/venues/{venue['id']}"
    await gateway.client.get(path)
    updated = await gateway.client.put(path, json={**VENUE, "capacity": 7}, headers=manager_headers)
    await gateway.client.get(path, headers=manager_headers)
    query = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert query.url.params["min_position"] == updated.headers["X-Read-Position"]


async def test_a_changed_resource_answers_200_to_an_old_etag(gateway, manager_headers) -> None:
    venue = await create_venue(gateway, manager_headers)
    old = (await gateway.client.get(f"/api/v1/venues/{venue['id']}")).headers["ETag"]
    await gateway.client.put(
        f"/api/v1/venues/{venue['id']}", json={**VENUE, "capacity": 7}, headers=manager_headers
    )
    response = await gateway.client.get(
        f"/api/v1/venues/{venue['id']}", headers={"If-None-Match": old, **manager_headers}
    )
    assert response.status_code == 200
    assert response.headers["ETag"] != old
    assert response.headers["Cache-Control"] == "private, no-cache"


async def test_lists_answer_304_to_their_current_etag(gateway, manager_headers) -> None:
    await create_venue(gateway, manager_headers)
    etag = (await gateway.client.get("/api/v1/venues")).headers["ETag"]
    response = await gateway.client.get("/api/v1/venues", headers={"If-None-Match": etag})
    assert response.status_code == 304


async def test_the_idempotency_key_is_forwarded_and_a_replay_gives_the_same_answer(
    gateway, manager_headers
) -> None:
    headers = {**manager_headers, "Idempotency-Key": "venue-create-1"}
    first = await gateway.client.post("/api/v1/venues", json=VENUE, headers=headers)
    again = await gateway.client.post("/api/v1/venues", json=VENUE, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(gateway.backend.venues) == 1
    forwarded = gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "POST")
    assert [request.headers["Idempotency-Key"] for request in forwarded] == ["venue-create-1"] * 2


async def test_a_malformed_idempotency_key_is_refused(gateway, manager_headers) -> None:
    response = await gateway.client.post(
        "/api/v1/venues", json=VENUE, headers={**manager_headers, "Idempotency-Key": "a b"}
    )
    assert response.status_code == 422


async def test_creates_publishes_and_reads_an_event(gateway, manager_headers) -> None:
    venue = await create_venue(gateway, manager_headers)
    created = await gateway.client.post(
        "/api/v1/events", json=an_event(str(venue["id"])), headers=manager_headers
    )
    assert created.status_code == 201
    event = created.json()
    assert created.headers["Location"] == f"/api/v1/events/{event['id']}"
    published = await gateway.client.post(
        f"/api/v1/events/{event['id']}/publish", headers=manager_headers
    )
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    again = await gateway.client.post(
        f"/api/v1/events/{event['id']}/publish", headers=manager_headers
    )
    assert again.status_code == 409
    assert again.json()["error_type"] == "already_published"
    read = await gateway.client.get(f"/api/v1/events/{event['id']}")
    assert read.status_code == 200
    assert read.json()["name"] == "Flash Sale Live"


async def test_changes_an_event_and_adds_a_ticket_type(gateway, manager_headers) -> None:
    venue = await create_venue(gateway, manager_headers)
    event = (
        await gateway.client.post(
            "/api/v1/events", json=an_event(str(venue["id"])), headers=manager_headers
        )
    ).json()
    changed = await gateway.client.put(
        f"/api/v1/events/{event['id']}",
        json={"name": "Renamed", "description": "Now with fireworks"},
        headers=manager_headers,
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Renamed"
    added = await gateway.client.post(
        f"/api/v1/events/{event['id']}/ticket-types",
        json={"name": "Balcony", "price": "30.00", "quantity": 5},
        headers=manager_headers,
    )
    assert added.status_code == 201
    rescheduled = await gateway.client.post(
        f"/api/v1/events/{event['id']}/reschedule",
        json={"starts_at": "2031-07-01T19:30:00+00:00"},
        headers=manager_headers,
    )
    assert rescheduled.status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"ticket_types": []},
        {"starts_at": "2031-06-01T19:30:00"},
        {
            "ticket_types": [
                {"name": "A", "price": "1.00", "quantity": 1},
                {"name": "a", "price": "1.00", "quantity": 1},
            ]
        },
        {"ticket_types": [{"name": "A", "price": "-1.00", "quantity": 1}]},
    ],
)
async def test_refuses_invalid_events(gateway, manager_headers, change) -> None:
    body = {**an_event(str(uuid.uuid4())), **change}
    response = await gateway.client.post("/api/v1/events", json=body, headers=manager_headers)
    assert response.status_code == 422


async def test_an_admin_cancels_an_event(gateway, admin_headers) -> None:
    venue = await create_venue(gateway, admin_headers)
    event = (
        await gateway.client.post(
            "/api/v1/events", json=an_event(str(venue["id"])), headers=admin_headers
        )
    ).json()
    response = await gateway.client.post(
        f"/api/v1/events/{event['id']}/cancel", json={"reason": "Storm"}, headers=admin_headers
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    unknown = await gateway.client.post(
        f"/api/v1/events/{uuid.uuid4()}/cancel", headers=admin_headers
    )
    assert unknown.status_code == 404


async def test_event_search_filters_reach_the_read_model(gateway) -> None:
    venue_id = uuid.uuid4()
    response = await gateway.client.get(
        "/api/v1/events",
        params={
            "q": "jazz",
            "venue_id": str(venue_id),
            "starts_after": "2031-01-01T00:00:00+00:00",
            "starts_before": "2031-12-31T00:00:00+00:00",
            "sort": "-starts_at",
            "page": 3,
            "size": 10,
        },
    )
    assert response.status_code == 200
    params = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1].url.params
    assert params["q"] == "jazz"
    assert params["venue_id"] == str(venue_id)
    assert params["starts_after"].startswith("2031-01-01T00:00:00")
    assert params["sort"] == "-starts_at"
    assert (params["page"], params["size"]) == ("3", "10")


async def test_event_dates_must_have_a_time_zone(gateway) -> None:
    response = await gateway.client.get("/api/v1/events?starts_after=2031-01-01T00:00:00")
    assert response.status_code == 422


async def test_popular_events_and_availability(gateway, manager_headers) -> None:
    venue = await create_venue(gateway, manager_headers)
    event = (
        await gateway.client.post(
            "/api/v1/events", json=an_event(str(venue["id"])), headers=manager_headers
        )
    ).json()
    popular = await gateway.client.get("/api/v1/events/popular?limit=5")
    assert popular.status_code == 200
    assert [item["id"] for item in popular.json()] == [event["id"]]
    gateway.backend.availability[event["id"]] = {event["ticket_types"][0]["ticket_type_id"]: 3}
    availability = await gateway.client.get(f"/api/v1/events/{event['id']}/availability")
    assert availability.status_code == 200
    assert availability.json()["ticket_types"][0]["available"] == 3
    missing = await gateway.client.get(f"/api/v1/events/{uuid.uuid4()}")
    assert missing.status_code == 404


ROLE_MATRIX = [
    # (method, path template, body, role, expected status)
    ("POST", "/api/v1/venues", VENUE, None, 401),
    ("POST", "/api/v1/venues", VENUE, "user", 403),
    ("POST", "/api/v1/venues", VENUE, "manager", 201),
    ("POST", "/api/v1/venues", VENUE, "admin", 201),
    ("PUT", "/api/v1/venues/{venue}", VENUE, None, 401),
    ("PUT", "/api/v1/venues/{venue}", VENUE, "user", 403),
    ("PUT", "/api/v1/venues/{venue}", VENUE, "manager", 200),
    ("PUT", "/api/v1/venues/{venue}", VENUE, "admin", 200),
    ("DELETE", "/api/v1/venues/{venue}", None, None, 401),
    ("DELETE", "/api/v1/venues/{venue}", None, "user", 403),
    ("DELETE", "/api/v1/venues/{venue}", None, "manager", 403),
    ("DELETE", "/api/v1/venues/{venue}", None, "admin", 204),
    ("POST", "/api/v1/events", "event", "user", 403),
    ("POST", "/api/v1/events", "event", "manager", 201),
    ("PUT", "/api/v1/events/{event}", {"name": "New"}, "user", 403),
    ("PUT", "/api/v1/events/{event}", {"name": "New"}, "manager", 200),
    ("POST", "/api/v1/events/{event}/publish", None, "user", 403),
    ("POST", "/api/v1/events/{event}/publish", None, "manager", 200),
    ("POST", "/api/v1/events/{event}/cancel", None, "manager", 403),
    ("POST", "/api/v1/events/{event}/cancel", None, "admin", 200),
    ("GET", "/api/v1/venues/{venue}", None, None, 200),
    ("GET", "/api/v1/events/{event}", None, "user", 200),
    ("GET", "/api/v1/bookings", None, None, 401),
    ("GET", "/api/v1/bookings", None, "user", 200),
]


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), ROLE_MATRIX)
async def test_role_matrix(gateway, method, path, body, role, expected) -> None:
    admin = await gateway.headers_for("admin")
    venue = await create_venue(gateway, admin)
    event = (
        await gateway.client.post("/api/v1/events", json=an_event(str(venue["id"])), headers=admin)
    ).json()
    headers = await gateway.headers_for(role) if role else {}
    url = path.format(venue=venue["id"], event=event["id"])
    payload = an_event(str(venue["id"])) if body == "event" else body
    response = await gateway.client.request(method, url, json=payload, headers=headers)
    assert response.status_code == expected, response.text
