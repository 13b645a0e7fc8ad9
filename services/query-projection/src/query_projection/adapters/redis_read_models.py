"""Hot read models in Redis: booking status, availability, popular events, event cache.

Keys live under `<REDIS_KEY_PREFIX>rm<generation>:` so a rebuild fills a fresh
namespace while the old one keeps being served. Every write goes through a Lua
script that compares versions, so an old or repeated message never moves a
status or a counter backwards (the same rules as `domain.versions`).

Redis away: a batch's writes that cannot reach Redis are skipped (PostgreSQL's read models
still commit, so the projection keeps moving) and remembered as `missed_writes`; reads
raise `HotViewsUnavailable` and the queries answer from PostgreSQL. A generation that holds
everything PostgreSQL held when it was last filled carries a `filled` key: Redis restarted
empty has none, and `application.hot_refill` fills it again from PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from query_projection.application.ports import HotViewsUnavailable
from query_projection.domain.projection import ProjectionBatch
from query_projection.domain.read_models import Booking, Stock
from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError

logger = logging.getLogger(__name__)

# KEYS: availability hash, popular sorted set. ARGV: ticket type id, level JSON,
# stock version, provisional (1/0), event id. Mirrors domain.versions.stock_replaces.
_SET_STOCK = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local version = tonumber(ARGV[3])
local provisional = ARGV[4] == '1'
local replace = false
if not current then
  replace = true
elseif not provisional then
  local stored = cjson.decode(current)
  if stored['provisional'] then
    replace = version >= tonumber(stored['stock_version'])
  else
    replace = version > tonumber(stored['stock_version'])
  end
end
if not replace then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local sold = 0
for _, level in ipairs(redis.call('HVALS', KEYS[1])) do
  sold = sold + tonumber(cjson.decode(level)['sold'])
end
redis.call('ZADD', KEYS[2], sold, ARGV[5])
return 1
"""

# KEYS: booking hash. ARGV: version, then field/value pairs. Newer versions only.
_SET_BOOKING = """
local stored = redis.call('HGET', KEYS[1], 'version')
if stored and tonumber(stored) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 2))
return 1
"""

# KEYS: event cache hash. ARGV: revision, ttl. A new revision drops the cached body.
_SET_REVISION = """
if redis.call('HGET', KEYS[1], 'rev') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'rev', ARGV[1])
  redis.call('HDEL', KEYS[1], 'body')
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: event cache hash. ARGV: revision read from PostgreSQL, body, ttl. Fills the
# cache only if the projection has not announced a newer revision since that read.
_FILL_CACHE = """
local rev = redis.call('HGET', KEYS[1], 'rev')
if rev and rev ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'rev', ARGV[1], 'body', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class StockSnapshot:
    ticket_type_id: UUID
    quantity: int
    reserved: int
    sold: int
    available: int
    stock_version: int
    provisional: bool


@dataclass(frozen=True)
class BookingStatusEntry:
    booking_id: UUID
    status: str
    version: int
    fields: dict[str, str]


def _stock_json(stock: Stock) -> str:
    return json.dumps(
        {
            "quantity": stock.quantity,
            "reserved": stock.reserved,
            "sold": stock.sold,
            "available": stock.available,
            "stock_version": stock.stock_version,
            "provisional": stock.provisional,
        },
        separators=(",", ":"),
    )


def _booking_fields(booking: Booking) -> list[str]:
    values: dict[str, Any] = {
        "status": booking.status.value,
        "event_id": booking.event_id,
        "ticket_type_id": booking.ticket_type_id,
        "quantity": booking.quantity,
        "owner_id": booking.owner_id,
        "updated_at": booking.updated_at.isoformat(),
        # Always written: "" clears a payment that is no longer to come.
        "payment_status": booking.payment_status or "",
        "payment_reference": booking.payment_reference,
        # Why it ended, with the status that says it ended (once set, never cleared).
        "reason": booking.reason,
    }
    pairs: list[str] = []
    for name, value in values.items():
        if value is not None:
            pairs.extend((name, str(value)))
    return pairs


class RedisKeys:
    def __init__(self, prefix: str, generation: int) -> None:
        self.namespace = f"{prefix}rm{generation}:"

    def booking(self, booking_id: UUID) -> str:
        return f"{self.namespace}booking:{booking_id}"

    def availability(self, event_id: UUID) -> str:
        return f"{self.namespace}availability:{event_id}"

    def popular_events(self) -> str:
        return f"{self.namespace}popular-events"

    def event(self, event_id: UUID) -> str:
        return f"{self.namespace}event:{event_id}"

    def filled(self) -> str:
        return f"{self.namespace}filled"


class RedisReadModels:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        cache_ttl_seconds: int = 600,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.cache_ttl_seconds = cache_ttl_seconds
        # Pipelines do not pass the client's breaker: `apply` asks it itself.
        self._breaker = breaker
        # Writes skipped since the last fill began: Redis lacks them until the next fill.
        self.missed_writes = False
        # The generation whose Redis keys are known to be complete (filled, nothing missed);
        # availability and popular events are read from PostgreSQL for any other.
        self.serving: int | None = None
        self._set_stock = redis.register_script(_SET_STOCK)
        self._set_booking = redis.register_script(_SET_BOOKING)
        self._set_revision = redis.register_script(_SET_REVISION)
        self._fill_cache = redis.register_script(_FILL_CACHE)

    def keys(self, generation: int) -> RedisKeys:
        return RedisKeys(self.prefix, generation)

    def pointer_key(self) -> str:
        return f"{self.prefix}read-model:generation"

    # --- writes (the projection) ---------------------------------------------------

    async def apply(
        self, generation: int, batch: ProjectionBatch, show_revisions: Mapping[UUID, str]
    ) -> None:
        try:
            if self._breaker is not None:
                with self._breaker.calling():
                    await self._apply(generation, batch, show_revisions)
            else:
                await self._apply(generation, batch, show_revisions)
        except (RedisError, CircuitBreakerError):
            if not self.missed_writes:
                logger.warning(
                    "Redis read models unreachable: writing PostgreSQL's only until Redis "
                    "answers and is filled again",
                    exc_info=True,
                )
            self.missed_writes = True
            self.serving = None

    async def _apply(
        self, generation: int, batch: ProjectionBatch, show_revisions: Mapping[UUID, str]
    ) -> None:
        keys = self.keys(generation)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in sorted(batch.touched_stock):
                stock = batch.stock.get(key)
                if stock is not None:
                    await self.set_stock(keys, stock, client=pipe)
            for booking_id in sorted(batch.touched_bookings):
                booking = batch.bookings.get(booking_id)
                if booking is not None:
                    await self._set_booking(
                        keys=[keys.booking(booking_id)],
                        args=[booking.version, *_booking_fields(booking)],
                        client=pipe,
                    )
            for event_id, revision in sorted(show_revisions.items()):
                await self._set_revision(
                    keys=[keys.event(event_id)],
                    args=[revision, self.cache_ttl_seconds],
                    client=pipe,
                )
            await pipe.execute()

    async def set_stock(self, keys: RedisKeys, stock: Stock, client: Any = None) -> bool:
        result = await self._set_stock(
            keys=[keys.availability(stock.event_id), keys.popular_events()],
            args=[
                str(stock.ticket_type_id),
                _stock_json(stock),
                stock.stock_version,
                1 if stock.provisional else 0,
                str(stock.event_id),
            ],
            client=client,
        )
        return bool(result)

    async def fill(
        self, generation: int, stock: Iterable[Stock], bookings: Iterable[Booking]
    ) -> None:
        """Writes rows read from PostgreSQL; newer versions already in Redis are kept."""
        keys = self.keys(generation)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for level in stock:
                    await self.set_stock(keys, level, client=pipe)
                for booking in bookings:
                    await self._set_booking(
                        keys=[keys.booking(booking.booking_id)],
                        args=[booking.version, *_booking_fields(booking)],
                        client=pipe,
                    )
                await pipe.execute()
        except RedisError as error:
            raise self._unavailable(error) from error

    async def is_filled(self, generation: int) -> bool:
        try:
            return bool(await self.redis.exists(self.keys(generation).filled()))
        except RedisError as error:
            raise self._unavailable(error) from error

    async def mark_filled(self, generation: int, filled: bool = True) -> None:
        key = self.keys(generation).filled()
        try:
            await (self.redis.set(key, 1) if filled else self.redis.delete(key))
        except RedisError as error:
            raise self._unavailable(error) from error

    async def set_pointer(self, generation: int) -> None:
        await self.redis.set(self.pointer_key(), generation)

    async def drop_generation(self, generation: int) -> int:
        removed = 0
        async for key in self.redis.scan_iter(
            match=f"{self.keys(generation).namespace}*", count=500
        ):
            removed += int(await self.redis.unlink(key))
        return removed

    # --- reads (the query API) -----------------------------------------------------

    async def booking_status(self, generation: int, booking_id: UUID) -> dict[str, str] | None:
        try:
            raw = cast(
                dict[bytes, bytes],
                await self.redis.hgetall(self.keys(generation).booking(booking_id)),
            )
        except RedisError as error:
            raise self._unavailable(error) from error
        if not raw:
            return None
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def availability(self, generation: int, event_id: UUID) -> list[StockSnapshot]:
        self._require_complete(generation)
        try:
            raw = cast(
                dict[bytes, bytes],
                await self.redis.hgetall(self.keys(generation).availability(event_id)),
            )
        except RedisError as error:
            raise self._unavailable(error) from error
        snapshots = []
        for field, value in raw.items():
            level = json.loads(value)
            snapshots.append(
                StockSnapshot(
                    ticket_type_id=UUID(field.decode()),
                    quantity=level["quantity"],
                    reserved=level["reserved"],
                    sold=level["sold"],
                    available=level["available"],
                    stock_version=level["stock_version"],
                    provisional=level["provisional"],
                )
            )
        return snapshots

    async def popular_events(self, generation: int, limit: int) -> list[tuple[UUID, int]]:
        self._require_complete(generation)
        try:
            entries = cast(
                list[tuple[bytes, float]],
                await self.redis.zrevrange(
                    self.keys(generation).popular_events(), 0, limit - 1, withscores=True
                ),
            )
        except RedisError as error:
            raise self._unavailable(error) from error
        return [(UUID(member.decode()), int(score)) for member, score in entries]

    async def cached_event(self, generation: int, event_id: UUID) -> tuple[str | None, str | None]:
        try:
            rev, body = cast(
                list[bytes | None],
                await self.redis.hmget(self.keys(generation).event(event_id), ["rev", "body"]),
            )
        except RedisError as error:
            raise self._unavailable(error) from error
        return (
            rev.decode() if rev is not None else None,
            body.decode() if body is not None else None,
        )

    async def fill_event_cache(
        self, generation: int, event_id: UUID, revision: str, body: str
    ) -> bool:
        try:
            result = await self._fill_cache(
                keys=[self.keys(generation).event(event_id)],
                args=[revision, body, self.cache_ttl_seconds],
            )
        except RedisError as error:
            raise self._unavailable(error) from error
        return bool(result)

    def _unavailable(self, error: RedisError) -> HotViewsUnavailable:
        # Redis may come back empty: served again only once its `filled` key is seen.
        self.serving = None
        return HotViewsUnavailable(str(error))

    def _require_complete(self, generation: int) -> None:
        """Keys that may lack rows (Redis away, restarted empty, being filled) must not be
        read as if they were complete: a missing level reads as nothing sold."""
        if self.serving != generation:
            raise HotViewsUnavailable(f"Redis read models of generation {generation} not filled")
