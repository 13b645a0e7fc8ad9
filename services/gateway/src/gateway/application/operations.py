"""What the operators' console reads and does: platform health, a sale as it happens, and
dead letters with their re-drive. The routes say who may (the sale: managers too); each call
is checked again downstream."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.application.catalog import CatalogService, ReadOptions
from gateway.application.ports import Downstream
from gateway.domain.users import Caller
from service_kit.errors import DomainError, NotFoundError

BOOKING_STATUSES = ("PENDING", "CONFIRMED", "REJECTED", "CANCELLED", "EXPIRED")
DEAD_LETTERS = "/internal/v1/dead-letters"

StatusSource = Callable[[], Awaitable[list[dict[str, Any]]]]


class OperationsService:
    def __init__(
        self,
        catalog: CatalogService,
        read_models: Downstream,
        consumers: Mapping[str, Downstream],
        service_statuses: StatusSource,
        own_status: StatusSource,
    ) -> None:
        self._catalog = catalog
        # query-projection: the sale's booking counts per status.
        self._read_models = read_models
        self._consumers = consumers
        self._service_statuses = service_statuses
        self._own_status = own_status

    async def platform_health(self) -> dict[str, Any]:
        own, others = await asyncio.gather(self._own_status(), self._service_statuses())
        services = [*own, *others]
        return {
            "checked_at": datetime.now(UTC).isoformat(),
            "all_ready": all(service["ready"] for service in services),
            "services": services,
        }

    async def sale(self, caller: Caller, event_id: uuid.UUID) -> dict[str, Any]:
        event_answer, availability_answer, counts_answer = await asyncio.gather(
            self._catalog.event(caller, event_id, ReadOptions()),
            self._catalog.availability(caller, event_id, ReadOptions()),
            self._read_models.request(
                "GET", f"/internal/v1/events/{event_id}/booking-counts", caller=caller
            ),
        )
        counts = counts_answer.json()["counts"]
        event = event_answer.json()
        left = {item["ticket_type_id"]: item for item in availability_answer.json()["ticket_types"]}
        ticket_types = []
        for ticket_type in event.get("ticket_types", []):
            stock = left.get(ticket_type["ticket_type_id"], {})
            quantity = int(stock.get("quantity", ticket_type["quantity"]))
            available = int(stock.get("available", quantity))
            ticket_types.append(
                {
                    "ticket_type_id": ticket_type["ticket_type_id"],
                    "name": ticket_type["name"],
                    "quantity": quantity,
                    "sold": int(stock.get("sold", 0)),
                    "reserved": int(stock.get("reserved", 0)),
                    "available": available,
                    "sold_out": bool(stock.get("sold_out", available <= 0)),
                }
            )
        return {
            "event_id": str(event_id),
            "name": event["name"],
            "status": event["status"],
            "observed_at": datetime.now(UTC).isoformat(),
            "sold_out": bool(ticket_types) and all(item["sold_out"] for item in ticket_types),
            "ticket_types": ticket_types,
            "bookings": {status: int(counts.get(status, 0)) for status in BOOKING_STATUSES},
        }

    async def dead_letters(self, caller: Caller) -> list[dict[str, Any]]:
        async def of(name: str, service: Downstream) -> dict[str, Any]:
            try:
                answer = await service.request("GET", DEAD_LETTERS, caller=caller)
            except DomainError as error:
                # One service that cannot answer does not hide the others' dead letters.
                return {"service": name, "pending": 0, "dead_letters": [], "error": error.detail}
            return {"service": name, **answer.json()}

        return list(await asyncio.gather(*(of(name, svc) for name, svc in self._consumers.items())))

    async def redrive(
        self, caller: Caller, service: str, *, limit: int | None, dead_letter: str | None
    ) -> dict[str, Any]:
        downstream = self._consumers.get(service)
        if downstream is None:
            raise NotFoundError(f"No service {service!r} consumes messages")
        answer = await downstream.request(
            "POST",
            f"{DEAD_LETTERS}/redrive",
            caller=caller,
            body=json.dumps(
                {"dead_letter": dead_letter} if dead_letter is not None else {"limit": limit}
            ).encode(),
        )
        return {"service": service, **answer.json()}
