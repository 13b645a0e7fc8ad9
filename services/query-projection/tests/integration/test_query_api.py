"""The internal query API over HTTP: pagination, filters, ETags, read-your-writes."""

from __future__ import annotations

from uuid import uuid4

import pytest

from .conftest import internal_token, running_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(harness):
    settings = harness.settings.model_copy(update={"run_consumer": False})
    async with running_app(settings) as client:
        yield client


async def test_single_resources_carry_etags_and_answer_304(api, harness, scenario):
    venue = scenario.venue_created()
    venue_id = scenario.subject_id(venue)
    show = scenario.event_created(venue_id)
    requested = scenario.booking_requested(scenario.subject_id(show), uuid4())
    await harness.publish(venue, show, requested)
    for path in (
        f"/internal/v1/venues/{venue_id}",
        f"/internal/v1/events/{scenario.subject_id(show)}",
        f"/internal/v1/events/{scenario.subject_id(show)}/availability",
        f"/internal/v1/bookings/{scenario.subject_id(requested)}",
        "/internal/v1/venues",
        "/internal/v1/events?q=flash",
        "/internal/v1/bookings?owner_id=user-1",
    ):
        first = await api.get(path)
        assert first.status_code == 200, (path, first.text)
        etag = first.headers["etag"]
        assert etag.startswith('"')
        again = await api.get(path, headers={"If-None-Match": etag})
        assert (again.status_code, again.headers["etag"], again.content) == (304, etag, b"")

    assert (await api.get(f"/internal/v1/venues/{venue_id}")).headers["etag"] == (f'"{venue_id}:1"')
    old_tag = (await api.get(f"/internal/v1/venues/{venue_id}")).headers["etag"]
    await harness.publish(scenario.venue_updated(venue_id, "Changed"))
    changed = await api.get(f"/internal/v1/venues/{venue_id}", headers={"If-None-Match": old_tag})
    assert (changed.status_code, changed.json()["name"]) == (200, "Changed")
    booking = (await api.get(f"/internal/v1/bookings/{scenario.subject_id(requested)}")).json()
    assert (booking["status"], booking["owner_id"], booking["total_price"]) == (
        "PENDING",
        "user-1",
        "99.00",
    )


async def test_pagination_has_a_maximum_and_invalid_filters_answer_422(api, harness, scenario):
    venues = [scenario.venue_created(name=f"Hall {i:02}") for i in range(3)]
    await harness.publish(*venues)
    page = (await api.get("/internal/v1/venues", params={"page": 2, "size": 2})).json()
    assert (page["page"], page["size"], page["total"], len(page["items"])) == (2, 2, 3, 1)
    assert (await api.get("/internal/v1/venues")).json()["size"] == 20

    for path, params in [
        ("/internal/v1/venues", {"size": 101}),
        ("/internal/v1/venues", {"page": 0}),
        ("/internal/v1/events", {"sort": "price"}),
        ("/internal/v1/events", {"starts_after": "2030-01-01T00:00:00"}),
        (
            "/internal/v1/events",
            {"starts_after": "2030-02-01T00:00:00Z", "starts_before": "2030-01-01T00:00:00Z"},
        ),
        ("/internal/v1/events", {"venue_id": "not-a-uuid"}),
        ("/internal/v1/bookings", {"status": "LOST"}),
        ("/internal/v1/events/popular", {"limit": 0}),
    ]:
        response = await api.get(path, params=params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.json()["error_type"] == "validation_error"


async def test_deleted_venue_and_unknown_resources_answer_404(api, harness, scenario):
    venue = scenario.venue_created()
    venue_id = scenario.subject_id(venue)
    await harness.publish(venue, scenario.venue_deleted(venue_id))
    for path in (
        f"/internal/v1/venues/{venue_id}",
        f"/internal/v1/events/{uuid4()}",
        f"/internal/v1/events/{uuid4()}/availability",
        f"/internal/v1/bookings/{uuid4()}",
    ):
        response = await api.get(path)
        assert (response.status_code, response.json()["error_type"]) == (404, "not_found")


async def test_read_your_writes_waits_for_the_position_or_answers_503(api, harness, scenario):
    venue = scenario.venue_created()
    await harness.publish(venue)
    path = f"/internal/v1/venues/{scenario.subject_id(venue)}"
    reached = await api.get(path, params={"min_position": venue.position})
    assert reached.status_code == 200

    behind = await api.get(path, params={"min_position": venue.position + 5, "wait_ms": 50})
    assert behind.status_code == 503
    assert behind.json()["error_type"] == "read_model_behind"
    assert behind.headers["retry-after"] == "1"

    version = await api.get(path, params={"min_version": 3, "wait_ms": 50})
    assert (version.status_code, version.json()["error_type"]) == (503, "read_model_behind")


async def test_positions_report_applied_offsets_and_positions(api, harness, scenario):
    await harness.publish(scenario.venue_created(), scenario.venue_created())
    body = (await api.get("/internal/v1/positions")).json()
    assert body["position"] == 2
    assert body["generation"] == 1
    applied = [p for p in body["partitions"] if p["last_position"] is not None]
    assert sum(p["offset"] for p in applied) == 2


async def test_openapi_documents_the_internal_api(api):
    document = (await api.get("/openapi.json")).json()
    get_event = document["paths"]["/internal/v1/events/{event_id}"]["get"]
    assert get_event["tags"] == ["events"]
    assert {"200", "304", "404", "422", "503"} <= set(get_event["responses"])
    assert get_event["summary"]


async def test_bookings_need_a_gateway_token(api, harness, scenario) -> None:
    venue = scenario.venue_created()
    show = scenario.event_created(scenario.subject_id(venue))
    requested = scenario.booking_requested(scenario.subject_id(show), uuid4())
    await harness.publish(venue, show, requested)
    no_token = {"Authorization": ""}
    forged = {"Authorization": "", "X-Caller-ID": "admin-1", "X-Caller-Role": "admin"}
    for headers in (no_token, forged):
        response = await api.get("/internal/v1/bookings", headers=headers)
        assert response.status_code == 401
        single = await api.get(
            f"/internal/v1/bookings/{scenario.subject_id(requested)}", headers=headers
        )
        assert single.status_code == 401
    anonymous = await api.get("/internal/v1/bookings", headers=internal_token(None, "anonymous"))
    assert anonymous.status_code == 401
    assert (await api.get("/metrics", headers=no_token)).status_code == 200


async def test_a_user_sees_only_their_own_bookings(api, harness, scenario) -> None:
    venue = scenario.venue_created()
    show = scenario.event_created(scenario.subject_id(venue))
    mine = scenario.booking_requested(scenario.subject_id(show), uuid4())
    await harness.publish(venue, show, mine)
    user_1 = internal_token("user-1", "user")
    user_2 = internal_token("user-2", "user")
    own = await api.get("/internal/v1/bookings", headers=user_1)
    assert own.status_code == 200
    assert str(scenario.subject_id(mine)) in {item["id"] for item in own.json()["items"]}
    others = await api.get("/internal/v1/bookings", headers=user_2)
    assert others.status_code == 200
    assert all(item["owner_id"] == "user-2" for item in others.json()["items"])
    assert str(scenario.subject_id(mine)) not in {item["id"] for item in others.json()["items"]}
    someone_elses = await api.get(
        f"/internal/v1/bookings/{scenario.subject_id(mine)}", headers=user_2
    )
    assert someone_elses.status_code == 404
    by_email = await api.get(
        "/internal/v1/bookings", params={"customer_email": "a@b.c"}, headers=user_2
    )
    assert by_email.status_code == 403


async def test_managers_and_admins_see_an_events_booking_counts_per_status(
    api, harness, scenario
) -> None:
    venue = scenario.venue_created()
    show = scenario.event_created(scenario.subject_id(venue))
    other_show = scenario.event_created(scenario.subject_id(venue))
    event_id = scenario.subject_id(show)
    confirmed = [scenario.booking_requested(event_id, uuid4()) for _ in range(3)]
    rejected = scenario.booking_requested(event_id, uuid4())
    pending = scenario.booking_requested(event_id, uuid4(), owner_id="user-2")
    elsewhere = scenario.booking_requested(scenario.subject_id(other_show), uuid4())
    await harness.publish(venue, show, other_show, *confirmed, rejected, pending, elsewhere)
    await harness.publish(
        *(scenario.booking_confirmed(booking) for booking in confirmed),
        scenario.booking_rejected(rejected),
    )
    path = f"/internal/v1/events/{event_id}/booking-counts"

    for role in ("manager", "admin"):
        answer = await api.get(path, headers=internal_token(f"{role}-1", role))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "event_id": str(event_id),
            "counts": {"PENDING": 1, "CONFIRMED": 3, "REJECTED": 1, "CANCELLED": 0, "EXPIRED": 0},
            "total": 5,
        }
    tag = answer.headers["etag"]
    assert (await api.get(path, headers={"If-None-Match": tag})).status_code == 304
    await harness.publish(scenario.booking_cancelled(confirmed[0]))
    changed = await api.get(path, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert (changed.json()["counts"]["CONFIRMED"], changed.json()["counts"]["CANCELLED"]) == (2, 1)

    nothing_yet = await api.get(f"/internal/v1/events/{uuid4()}/booking-counts")
    assert nothing_yet.json()["total"] == 0
    assert set(nothing_yet.json()["counts"].values()) == {0}
    user = await api.get(path, headers=internal_token("user-1", "user"))
    assert user.status_code == 403
    assert (await api.get(path, headers={"Authorization": ""})).status_code == 401
