"""Gateway metrics beside the kit's (HTTP, circuit_breaker_state, retries_total)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from prometheus_client import Counter, Gauge

from gateway.application.waiting_room import Admission

RATE_LIMITED = Counter(
    "rate_limited_total", "Requests refused with 429, by route template", ["route"]
)

# Waiting rooms: every replica runs each room's admission and sets the same gauges from the
# shared state (read them with max by event_id); the admissions counter is per replica (sum).
WAITING_ROOM_WAITING = Gauge(
    "waiting_room_waiting", "Fans waiting in the event's waiting room", ["event_id"]
)
WAITING_ROOM_ADMITTED = Gauge(
    "waiting_room_admitted",
    "Fans admitted now: passes with attempts left whose session has not ended",
    ["event_id"],
)
WAITING_ROOM_ADMISSION_RATE = Gauge(
    "waiting_room_admission_rate_per_minute",
    "Admission rate in effect: the room's rate times the booking path's pressure factor",
    ["event_id"],
)
WAITING_ROOM_ADMISSIONS = Counter(
    "waiting_room_admissions_total", "Fans this replica let in", ["event_id"]
)
WAITING_ROOM_NOT_ADMITTED = Counter(
    "waiting_room_not_admitted_total",
    "Bookings refused 403 not_admitted: no valid pass while the event's room is on",
)


class AdmissionMetrics:
    """Sets the rooms' gauges after each admission round; a room turned off loses its own."""

    def __init__(self) -> None:
        self._shown: set[str] = set()

    def record(self, admissions: Iterable[Admission], rooms_on: Iterable[uuid.UUID]) -> None:
        for admission in admissions:
            event_id = str(admission.event_id)
            self._shown.add(event_id)
            figures = admission.figures
            WAITING_ROOM_WAITING.labels(event_id=event_id).set(figures.waiting)
            WAITING_ROOM_ADMITTED.labels(event_id=event_id).set(figures.admitted_now)
            WAITING_ROOM_ADMISSION_RATE.labels(event_id=event_id).set(
                figures.effective_rate_per_minute
            )
            if admission.admitted:
                WAITING_ROOM_ADMISSIONS.labels(event_id=event_id).inc(admission.admitted)
        for event_id in self._shown - {str(event_id) for event_id in rooms_on}:
            for gauge in (WAITING_ROOM_WAITING, WAITING_ROOM_ADMITTED, WAITING_ROOM_ADMISSION_RATE):
                gauge.remove(event_id)
            self._shown.discard(event_id)
