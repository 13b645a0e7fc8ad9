"""Waiting rooms in Redis, shared by every gateway replica: each decision is one Lua script,
run atomically on Redis's clock, so replicas admitting at the same moment never admit more
than the rate and cap allow, nor anyone twice, and two joins of one account get one place.

Keys per event, under `<prefix>gateway:waiting-room:<event id>:`:

- `room` (hash): the settings (`opens_at`, `rate`, `cap`, `session`, `attempts`), the room's
  id, `paused`, the stock as last seen (`sold_out`, `tickets_left`), the token bucket
  (`tokens`, `updated_at`), the rate factor (`factor`, `factor_at`, `cut_at`) and counters
  (`arrivals` after the start, `passes_issued`, `admitted_total`);
- `queue` (sorted set): waiting accounts by score (`domain/waiting_room.py` says why the
  scores make a fair order);
- `places` (hash): account -> its place id, so a join is idempotent and a place token names
  one place;
- `passes` (hash): account -> `<pass number> <expires at> <attempts left>`;
- `active` (sorted set): accounts admitted now, by session end; a pass with no attempts
  left leaves it, freeing its place under the cap;
- `attempt-keys` (set): `<account> <pass number> <Idempotency-Key>` of the attempts made, so
  a retried booking is the same attempt.

`<prefix>gateway:waiting-rooms` (set) lists the events with a room on. Redis keeps it all
across gateway restarts (and its own, with its append-only file).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.application.waiting_room import (
    Admission,
    AdmissionRound,
    AttemptOutcome,
    Joined,
    JoinOutcome,
    NotOpenYet,
)
from gateway.domain.waiting_room import (
    BURST_SECONDS,
    CUT_INTERVAL_SECONDS,
    MIN_RATE_FACTOR,
    Admitted,
    Bucket,
    Gone,
    PlaceStatus,
    RateFactor,
    RoomFigures,
    RoomSettings,
    Waiting,
    adapted,
    admission_cap,
    admissions,
    is_shuffled,
    refilled,
)
from service_kit.errors import DependencyUnavailableError

logger = logging.getLogger(__name__)

UNAVAILABLE = "The waiting room is unavailable for a moment; try again"
RETRY_AFTER_SECONDS = 2

_CLOCK = """
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
-- One '|'-separated string: a reply of one bulk string costs the client far less to read
-- than an array of fourteen.
local function figures(room, queue, active, now)
  local f = redis.call('HMGET', room, 'room_id', 'opens_at', 'rate', 'cap', 'session',
    'attempts', 'paused', 'sold_out', 'tickets_left', 'factor', 'admitted_total')
  for i = 1, #f do f[i] = f[i] or '' end
  f[#f + 1] = redis.call('ZCARD', queue)
  f[#f + 1] = redis.call('ZCOUNT', queue, '-inf', '(1')
  f[#f + 1] = redis.call('ZCOUNT', active, '(' .. now, '+inf')
  return table.concat(f, '|')
end
"""

# KEYS: directory, room, queue, active. ARGV: event id, new room id, opens_at ('' none),
# rate, cap, session seconds, attempts.
_CONFIGURE = (
    _CLOCK
    + """
local now = clock()
local created = 0
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'room_id', ARGV[2], 'paused', '0', 'sold_out', '0',
    'tickets_left', '', 'tokens', '0', 'updated_at', tostring(now), 'factor', '1',
    'factor_at', tostring(now), 'cut_at', '0', 'arrivals', '0', 'passes_issued', '0',
    'admitted_total', '0')
  created = 1
end
redis.call('HSET', KEYS[2], 'opens_at', ARGV[3], 'rate', ARGV[4], 'cap', ARGV[5],
  'session', ARGV[6], 'attempts', ARGV[7])
redis.call('SADD', KEYS[1], ARGV[1])
return {created, figures(KEYS[2], KEYS[3], KEYS[4], now)}
"""
)

# KEYS: directory, then every key of the room. ARGV: event id.
_CLOSE = """
redis.call('SREM', KEYS[1], ARGV[1])
local existed = redis.call('EXISTS', KEYS[2])
redis.call('UNLINK', unpack(KEYS, 2))
return existed
"""

# KEYS: room, queue, active. ARGV: paused ('1'/'0') or '' to only read.
_FIGURES = (
    _CLOCK
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'paused', ARGV[1]) end
return figures(KEYS[1], KEYS[2], KEYS[3], clock())
"""
)

# KEYS: room, queue, places, passes, active. ARGV: account, sale start ('' started),
# new place id, shuffled score.
_JOIN = (
    _CLOCK
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local now = clock()
local opens_at = redis.call('HGET', KEYS[1], 'opens_at')
if opens_at and opens_at ~= '' and now < tonumber(opens_at) then
  return {'not_open', opens_at}
end
local room_id = redis.call('HGET', KEYS[1], 'room_id')
local account = ARGV[1]
local held = redis.call('HGET', KEYS[3], account)
if held then
  if redis.call('ZSCORE', KEYS[2], account) then return {'joined', room_id, held, '0'} end
  local ends = redis.call('ZSCORE', KEYS[5], account)
  if ends and tonumber(ends) > now then return {'joined', room_id, held, '0'} end
end
local score = ARGV[4]
if ARGV[2] == '' or now >= tonumber(ARGV[2]) then
  score = 1 + redis.call('HINCRBY', KEYS[1], 'arrivals', 1)
end
redis.call('ZADD', KEYS[2], score, account)
redis.call('HSET', KEYS[3], account, ARGV[3])
redis.call('HDEL', KEYS[4], account)
redis.call('ZREM', KEYS[5], account)
return {'joined', room_id, ARGV[3], '1'}
"""
)

# KEYS: room, queue, places, passes, active. ARGV: account, place id.
_PLACE = (
    _CLOCK
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local f = figures(KEYS[1], KEYS[2], KEYS[5], clock())
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return f .. '|gone' end
local rank = redis.call('ZRANK', KEYS[2], ARGV[1])
if rank then
  return f .. '|waiting|' .. rank .. '|' .. redis.call('ZSCORE', KEYS[2], ARGV[1])
end
local pass = redis.call('HGET', KEYS[4], ARGV[1])
if pass then return f .. '|admitted|' .. pass end
return f .. '|gone'
"""
)

# KEYS: room, queue, passes, active. ARGV: sale start ('' started), tickets left ('' unknown),
# pressure ('1'/'0'), recovery seconds, burst seconds, min factor, cut interval.
_ADMIT = (
    _CLOCK
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local now = clock()
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local r = redis.call('HMGET', KEYS[1], 'rate', 'cap', 'session', 'attempts', 'paused',
  'tokens', 'updated_at', 'factor', 'factor_at', 'cut_at', 'sold_out')
local rate, cap, session, attempts = tonumber(r[1]), tonumber(r[2]), tonumber(r[3]), r[4]
local tokens, updated_at = tonumber(r[6]), tonumber(r[7])
local factor, factor_at, cut_at = tonumber(r[8]), tonumber(r[9]), tonumber(r[10])
local sold_out = r[11] == '1'
if ARGV[3] == '1' then
  if now - cut_at >= tonumber(ARGV[7]) then
    factor = math.max(tonumber(ARGV[6]), factor / 2)
    cut_at = now
  end
else
  factor = math.min(1, factor + math.max(0, now - factor_at) / tonumber(ARGV[4]))
end
local effective = rate * factor
local burst = math.max(1, effective * tonumber(ARGV[5]) / 60)
tokens = math.min(burst, tokens + math.max(0, now - updated_at) * effective / 60)
local left = nil
if ARGV[2] ~= '' then
  left = tonumber(ARGV[2])
  sold_out = left <= 0
  redis.call('HSET', KEYS[1], 'tickets_left', ARGV[2], 'sold_out', sold_out and '1' or '0')
end
local admitted = 0
local started = ARGV[1] == '' or now >= tonumber(ARGV[1])
if started and r[5] ~= '1' and not sold_out then
  if left then cap = math.min(cap, left) end
  local n = math.min(math.floor(tokens), cap - redis.call('ZCARD', KEYS[4]),
    redis.call('ZCARD', KEYS[2]))
  if n > 0 then
    local popped = redis.call('ZPOPMIN', KEYS[2], n)
    local ends = now + session
    for i = 1, #popped, 2 do
      local number = redis.call('HINCRBY', KEYS[1], 'passes_issued', 1)
      redis.call('HSET', KEYS[3], popped[i], number .. ' ' .. tostring(ends) .. ' ' .. attempts)
      redis.call('ZADD', KEYS[4], ends, popped[i])
    end
    admitted = #popped / 2
    tokens = tokens - admitted
    redis.call('HINCRBY', KEYS[1], 'admitted_total', admitted)
  end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated_at', tostring(now),
  'factor', tostring(factor), 'factor_at', tostring(now), 'cut_at', tostring(cut_at))
return {admitted, figures(KEYS[1], KEYS[2], KEYS[4], now)}
"""
)

# KEYS: room, passes, active, attempt-keys. ARGV: room id, account, pass number,
# Idempotency-Key ('' none).
_USE_ATTEMPT = (
    _CLOCK
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'no_room' end
if redis.call('HGET', KEYS[1], 'room_id') ~= ARGV[1] then return 'unknown_pass' end
local pass = redis.call('HGET', KEYS[2], ARGV[2])
if not pass then return 'unknown_pass' end
local number, ends, attempts = string.match(pass, '^(%d+) (%S+) (%d+)$')
if number ~= ARGV[3] then return 'unknown_pass' end
local now = clock()
if now >= tonumber(ends) then return 'expired' end
local member = ''
if ARGV[4] ~= '' then
  member = ARGV[2] .. ' ' .. number .. ' ' .. ARGV[4]
  if redis.call('SISMEMBER', KEYS[4], member) == 1 then return 'used' end
end
attempts = tonumber(attempts)
if attempts <= 0 then return 'used_up' end
attempts = attempts - 1
redis.call('HSET', KEYS[2], ARGV[2], number .. ' ' .. ends .. ' ' .. attempts)
if attempts == 0 then redis.call('ZREM', KEYS[3], ARGV[2]) end
if member ~= '' then
  redis.call('SADD', KEYS[4], member)
  -- every live pass ends within one session from now
  redis.call('EXPIRE', KEYS[4], tonumber(redis.call('HGET', KEYS[1], 'session')) + 60)
end
return 'used'
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _opens_at_argument(settings: RoomSettings) -> str:
    return "" if settings.opens_at is None else repr(settings.opens_at.timestamp())


FIGURES_FIELDS = 14


def _figures(fields: list[str]) -> RoomFigures:
    (
        room_id,
        opens_at,
        rate,
        cap,
        session,
        attempts,
        paused,
        sold_out,
        tickets_left,
        factor,
        admitted_total,
        waiting,
        shuffled_waiting,
        admitted_now,
    ) = fields
    return RoomFigures(
        room_id=room_id,
        settings=RoomSettings(
            opens_at=datetime.fromtimestamp(float(opens_at), UTC) if opens_at else None,
            admission_per_minute=int(rate),
            max_admitted_at_once=int(cap),
            session_minutes=int(session) // 60,
            booking_attempts_per_pass=int(attempts),
        ),
        paused=paused == "1",
        sold_out=sold_out == "1",
        tickets_left=int(tickets_left) if tickets_left else None,
        rate_factor=float(factor),
        waiting=int(waiting),
        shuffled_waiting=int(shuffled_waiting),
        admitted_now=int(admitted_now),
        admitted_total=int(admitted_total),
    )


def _admitted(raw: Any) -> Admitted:
    number, ends, attempts = _text(raw).split(" ")
    return Admitted(int(number), float(ends), int(attempts))


class RedisWaitingRoomStore:
    def __init__(self, redis: Redis, key_prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}gateway:waiting-room:"
        self._directory = f"{key_prefix}gateway:waiting-rooms"
        self._configure = redis.register_script(_CONFIGURE)
        self._close = redis.register_script(_CLOSE)
        self._figures = redis.register_script(_FIGURES)
        self._join = redis.register_script(_JOIN)
        self._place = redis.register_script(_PLACE)
        self._admit = redis.register_script(_ADMIT)
        self._use_attempt = redis.register_script(_USE_ATTEMPT)

    def _key(self, event_id: uuid.UUID, name: str) -> str:
        return f"{self._prefix}{event_id}:{name}"

    def _keys(self, event_id: uuid.UUID, *names: str) -> list[str]:
        return [self._key(event_id, name) for name in names]

    async def _run(self, script: Any, keys: list[str], args: list[str | int | float]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except (RedisError, OSError) as error:
            logger.warning("waiting room store unavailable: %r", error)
            raise DependencyUnavailableError(
                UNAVAILABLE, retry_after_seconds=RETRY_AFTER_SECONDS
            ) from error

    async def rooms(self) -> set[uuid.UUID]:
        try:
            members = await self._redis.smembers(self._directory)
        except (RedisError, OSError) as error:
            raise DependencyUnavailableError(
                UNAVAILABLE, retry_after_seconds=RETRY_AFTER_SECONDS
            ) from error
        return {uuid.UUID(_text(member)) for member in members}

    async def configure(
        self, event_id: uuid.UUID, settings: RoomSettings, new_room_id: str
    ) -> tuple[RoomFigures, bool]:
        raw = await self._run(
            self._configure,
            [self._directory, *self._keys(event_id, "room", "queue", "active")],
            [
                str(event_id),
                new_room_id,
                _opens_at_argument(settings),
                settings.admission_per_minute,
                settings.max_admitted_at_once,
                settings.session_seconds,
                settings.booking_attempts_per_pass,
            ],
        )
        return _figures(_text(raw[1]).split("|")), bool(raw[0])

    async def close(self, event_id: uuid.UUID) -> bool:
        keys = self._keys(event_id, "room", "queue", "places", "passes", "active", "attempt-keys")
        return bool(await self._run(self._close, [self._directory, *keys], [str(event_id)]))

    async def set_paused(self, event_id: uuid.UUID, paused: bool) -> RoomFigures | None:
        return await self._read_figures(event_id, "1" if paused else "0")

    async def figures(self, event_id: uuid.UUID) -> RoomFigures | None:
        return await self._read_figures(event_id, "")

    async def _read_figures(self, event_id: uuid.UUID, paused: str) -> RoomFigures | None:
        raw = await self._run(
            self._figures, self._keys(event_id, "room", "queue", "active"), [paused]
        )
        return None if raw is None else _figures(_text(raw).split("|"))

    async def join(
        self,
        event_id: uuid.UUID,
        account: str,
        *,
        sale_starts_at: float | None,
        place_id: str,
        shuffled_score: float,
    ) -> JoinOutcome:
        raw = await self._run(
            self._join,
            self._keys(event_id, "room", "queue", "places", "passes", "active"),
            [
                account,
                "" if sale_starts_at is None else repr(sale_starts_at),
                place_id,
                repr(shuffled_score),
            ],
        )
        if raw is None:
            return None
        if _text(raw[0]) == "not_open":
            return NotOpenYet(float(_text(raw[1])))
        return Joined(_text(raw[1]), _text(raw[2]), _text(raw[3]) == "1")

    async def place(
        self, event_id: uuid.UUID, account: str, place_id: str
    ) -> tuple[RoomFigures | None, PlaceStatus]:
        raw = await self._run(
            self._place,
            self._keys(event_id, "room", "queue", "places", "passes", "active"),
            [account, place_id],
        )
        if raw is None:
            return None, Gone()
        fields = _text(raw).split("|")
        figures, kind, place = (
            _figures(fields[:FIGURES_FIELDS]),
            fields[FIGURES_FIELDS],
            fields[FIGURES_FIELDS + 1 :],
        )
        if kind == "waiting":
            return figures, Waiting(int(place[0]), is_shuffled(float(place[1])))
        if kind == "admitted":
            return figures, _admitted(place[0])
        return figures, Gone()

    async def admit(self, event_id: uuid.UUID, admission: AdmissionRound) -> Admission | None:
        raw = await self._run(
            self._admit,
            self._keys(event_id, "room", "queue", "passes", "active"),
            [
                "" if admission.sale_starts_at is None else repr(admission.sale_starts_at),
                "" if admission.tickets_left is None else admission.tickets_left,
                "1" if admission.pressure else "0",
                admission.recovery_seconds,
                BURST_SECONDS,
                MIN_RATE_FACTOR,
                CUT_INTERVAL_SECONDS,
            ],
        )
        if raw is None:
            return None
        return Admission(event_id, int(raw[0]), _figures(_text(raw[1]).split("|")))

    async def use_attempt(
        self,
        event_id: uuid.UUID,
        room_id: str,
        account: str,
        pass_number: int,
        idempotency_key: str | None,
    ) -> AttemptOutcome:
        raw = await self._run(
            self._use_attempt,
            self._keys(event_id, "room", "passes", "active", "attempt-keys"),
            [room_id, account, pass_number, idempotency_key or ""],
        )
        return AttemptOutcome(_text(raw))


# ------------------------------------------------------------------ in one process, for tests


@dataclass
class _Room:
    room_id: str
    settings: RoomSettings
    bucket: Bucket
    factor: RateFactor
    paused: bool = False
    sold_out: bool = False
    tickets_left: int | None = None
    arrivals: int = 0
    passes_issued: int = 0
    admitted_total: int = 0
    queue: dict[str, float] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)
    passes: dict[str, Admitted] = field(default_factory=dict)
    active: dict[str, float] = field(default_factory=dict)
    attempt_keys: set[tuple[str, int, str]] = field(default_factory=set)

    def ordered(self) -> list[str]:
        return sorted(self.queue, key=lambda account: (self.queue[account], account))

    def figures(self, now: float) -> RoomFigures:
        return RoomFigures(
            room_id=self.room_id,
            settings=self.settings,
            paused=self.paused,
            sold_out=self.sold_out,
            tickets_left=self.tickets_left,
            rate_factor=self.factor.value,
            waiting=len(self.queue),
            shuffled_waiting=sum(1 for score in self.queue.values() if is_shuffled(score)),
            admitted_now=sum(1 for ends in self.active.values() if ends > now),
            admitted_total=self.admitted_total,
        )


class InMemoryWaitingRoomStore:
    """The same rules in one process (the domain's functions), on an injectable clock.
    `available` False makes every call fail as an unreachable Redis does."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._rooms: dict[uuid.UUID, _Room] = {}
        self.available = True

    def _check(self) -> None:
        if not self.available:
            raise DependencyUnavailableError(UNAVAILABLE, retry_after_seconds=RETRY_AFTER_SECONDS)

    async def rooms(self) -> set[uuid.UUID]:
        self._check()
        return set(self._rooms)

    async def configure(
        self, event_id: uuid.UUID, settings: RoomSettings, new_room_id: str
    ) -> tuple[RoomFigures, bool]:
        self._check()
        now = self._clock()
        room = self._rooms.get(event_id)
        created = room is None
        if room is None:
            room = _Room(new_room_id, settings, Bucket(0.0, now), RateFactor(1.0, now, 0.0))
            self._rooms[event_id] = room
        room.settings = settings
        return room.figures(now), created

    async def close(self, event_id: uuid.UUID) -> bool:
        self._check()
        return self._rooms.pop(event_id, None) is not None

    async def set_paused(self, event_id: uuid.UUID, paused: bool) -> RoomFigures | None:
        self._check()
        room = self._rooms.get(event_id)
        if room is None:
            return None
        room.paused = paused
        return room.figures(self._clock())

    async def figures(self, event_id: uuid.UUID) -> RoomFigures | None:
        self._check()
        room = self._rooms.get(event_id)
        return None if room is None else room.figures(self._clock())

    async def join(
        self,
        event_id: uuid.UUID,
        account: str,
        *,
        sale_starts_at: float | None,
        place_id: str,
        shuffled_score: float,
    ) -> JoinOutcome:
        self._check()
        room = self._rooms.get(event_id)
        if room is None:
            return None
        now = self._clock()
        opens_at = room.settings.opens_at
        if opens_at is not None and now < opens_at.timestamp():
            return NotOpenYet(opens_at.timestamp())
        held = room.places.get(account)
        if held is not None and (account in room.queue or room.active.get(account, 0) > now):
            return Joined(room.room_id, held, False)
        if sale_starts_at is not None and now < sale_starts_at:
            score = shuffled_score
        else:
            room.arrivals += 1
            score = 1.0 + room.arrivals
        room.queue[account] = score
        room.places[account] = place_id
        room.passes.pop(account, None)
        room.active.pop(account, None)
        return Joined(room.room_id, place_id, True)

    async def place(
        self, event_id: uuid.UUID, account: str, place_id: str
    ) -> tuple[RoomFigures | None, PlaceStatus]:
        self._check()
        room = self._rooms.get(event_id)
        if room is None:
            return None, Gone()
        figures = room.figures(self._clock())
        if room.places.get(account) != place_id:
            return figures, Gone()
        if account in room.queue:
            rank = room.ordered().index(account)
            return figures, Waiting(rank, is_shuffled(room.queue[account]))
        if account in room.passes:
            return figures, room.passes[account]
        return figures, Gone()

    async def admit(self, event_id: uuid.UUID, admission: AdmissionRound) -> Admission | None:
        self._check()
        room = self._rooms.get(event_id)
        if room is None:
            return None
        now = self._clock()
        room.active = {account: ends for account, ends in room.active.items() if ends > now}
        room.factor = adapted(
            room.factor,
            now,
            pressure=admission.pressure,
            recovery_seconds=admission.recovery_seconds,
        )
        room.bucket = refilled(
            room.bucket, now, room.settings.admission_per_minute * room.factor.value
        )
        if admission.tickets_left is not None:
            room.tickets_left = admission.tickets_left
            room.sold_out = admission.tickets_left <= 0
        started = admission.sale_starts_at is None or now >= admission.sale_starts_at
        count = 0
        if started and not room.paused and not room.sold_out:
            count = admissions(
                room.bucket,
                waiting=len(room.queue),
                admitted_now=len(room.active),
                cap=admission_cap(room.settings.max_admitted_at_once, admission.tickets_left),
            )
            ends = now + room.settings.session_seconds
            for account in room.ordered()[:count]:
                del room.queue[account]
                room.passes_issued += 1
                room.passes[account] = Admitted(
                    room.passes_issued, ends, room.settings.booking_attempts_per_pass
                )
                room.active[account] = ends
            room.bucket = replace(room.bucket, tokens=room.bucket.tokens - count)
            room.admitted_total += count
        return Admission(event_id, count, room.figures(now))

    async def use_attempt(
        self,
        event_id: uuid.UUID,
        room_id: str,
        account: str,
        pass_number: int,
        idempotency_key: str | None,
    ) -> AttemptOutcome:
        self._check()
        room = self._rooms.get(event_id)
        if room is None:
            return AttemptOutcome.NO_ROOM
        admitted = room.passes.get(account)
        if room.room_id != room_id or admitted is None or admitted.pass_number != pass_number:
            return AttemptOutcome.UNKNOWN_PASS
        if self._clock() >= admitted.expires_at:
            return AttemptOutcome.EXPIRED
        key = (account, pass_number, idempotency_key or "")
        if idempotency_key and key in room.attempt_keys:
            return AttemptOutcome.USED
        if admitted.attempts_left <= 0:
            return AttemptOutcome.USED_UP
        room.passes[account] = replace(admitted, attempts_left=admitted.attempts_left - 1)
        if admitted.attempts_left == 1:
            room.active.pop(account, None)
        if idempotency_key:
            room.attempt_keys.add(key)
        return AttemptOutcome.USED
