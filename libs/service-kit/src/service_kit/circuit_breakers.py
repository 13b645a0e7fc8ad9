"""Circuit breakers that never block the event loop, with a Prometheus state gauge.

Use `with breaker.calling():` around an awaited call; an open breaker raises
`CircuitBreakerError` (pybreaker's, so existing handlers keep working) at once.

State lives in the process, so asking a breaker costs nothing. With a Redis URL the
breaker also shares its state with every replica, asynchronously: it publishes its
own openings and closings with the asyncio client and reads the shared state in the
background every `refresh_seconds`. Replicas therefore agree within about that
interval, and Redis trouble never stops or slows a call (the last known state holds).
Failure counts stay per replica; only the open/closed decision is shared.
While open, after `reset_timeout_seconds` one trial call at a time goes through
(half-open): its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pybreaker
from redis.asyncio import Redis

from service_kit.metrics import CIRCUIT_BREAKER_STATE

logger = logging.getLogger(__name__)

STATE_CLOSED = pybreaker.STATE_CLOSED
STATE_OPEN = pybreaker.STATE_OPEN
STATE_HALF_OPEN = pybreaker.STATE_HALF_OPEN
_STATE_VALUES = {STATE_CLOSED: 0, STATE_HALF_OPEN: 1, STATE_OPEN: 2}
DEFAULT_REFRESH_SECONDS = 0.5

CircuitBreakerError = pybreaker.CircuitBreakerError


class SharedBreakerState:
    """One breaker's open/closed state in a Redis hash, read and written asynchronously."""

    def __init__(self, redis_url: str, key: str, refresh_seconds: float) -> None:
        self.redis_url = redis_url
        self.key = key
        self.refresh_seconds = refresh_seconds
        # The asyncio client belongs to one event loop; tests run several loops in turn.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: Redis | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def client(self) -> Redis | None:
        """The client for the running loop, or None outside of one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        if loop is not self._loop or self._redis is None:
            self._loop = loop
            self._tasks = set()
            self._redis = Redis.from_url(
                self.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
        return self._redis

    def spawn(self, work: Callable[[Redis], Any]) -> asyncio.Task[None] | None:
        redis = self.client()
        if redis is None:
            return None
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work(redis))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        self._redis = None
        self._loop = None


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        fail_max: int,
        reset_timeout_seconds: float,
        exclude: Iterable[type[BaseException]] = (),
        shared: SharedBreakerState | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout_seconds
        # A cancelled task says nothing about the dependency's health.
        self._excluded: tuple[type[BaseException], ...] = (asyncio.CancelledError, *exclude)
        self._shared = shared
        self._clock = clock
        self._state = STATE_CLOSED
        self._fail_counter = 0
        self._trial_in_flight = False
        self.opened_at: float | None = None
        # When this replica last changed state; newer shared states win over it.
        self._changed_at = 0.0
        self._refresher: asyncio.Task[None] | None = None
        CIRCUIT_BREAKER_STATE.labels(name=name).set(0)

    @property
    def current_state(self) -> str:
        self._ensure_refreshing()
        if self._state == STATE_OPEN and self.seconds_until_trial() == 0.0:
            return STATE_HALF_OPEN
        return self._state

    @property
    def fail_counter(self) -> int:
        return self._fail_counter

    def seconds_until_trial(self) -> float:
        if self._state != STATE_OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.reset_timeout - self._clock())

    @contextlib.contextmanager
    def calling(self) -> Iterator[None]:
        trial = self._before_call()
        try:
            yield
        except BaseException as error:
            if trial:
                self._trial_in_flight = False
            if not isinstance(error, self._excluded):
                self._on_failure()
            raise
        if trial:
            self._trial_in_flight = False
        self._on_success()

    def open(self) -> None:
        self._change(STATE_OPEN, opened_at=self._clock())

    def close(self) -> None:
        self._change(STATE_CLOSED, opened_at=None)

    async def aclose(self) -> None:
        """Stops sharing the state (pending publications and the background refresh)."""
        if self._shared is not None:
            await self._shared.aclose()

    async def refresh(self) -> None:
        """Adopts the shared state now, when it is newer than this replica's own."""
        shared = self._shared
        redis = shared.client() if shared is not None else None
        if shared is None or redis is None:
            return
        raw: dict[Any, Any] = await redis.hgetall(shared.key)
        values = {_text(name): _text(value) for name, value in raw.items()}
        state = values.get("state", "")
        changed_at = float(values.get("changed_at") or 0)
        if state not in (STATE_OPEN, STATE_CLOSED) or changed_at <= self._changed_at:
            return
        if state == self._state:
            self._changed_at = changed_at
            return
        opened_at = float(values["opened_at"]) if values.get("opened_at") else None
        self._change(state, opened_at=opened_at, changed_at=changed_at, publish=False)

    def _before_call(self) -> bool:
        """True when this call is the half-open trial."""
        self._ensure_refreshing()
        if self._state != STATE_OPEN:
            return False
        if self.seconds_until_trial() > 0 or self._trial_in_flight:
            raise CircuitBreakerError(
                f"circuit breaker {self.name} is open "
                f"(next trial in {self.seconds_until_trial():.1f}s)"
            )
        self._trial_in_flight = True
        self._set_metric(STATE_HALF_OPEN)
        return True

    def _on_failure(self) -> None:
        self._fail_counter += 1
        if self._state == STATE_OPEN or self._fail_counter >= self.fail_max:
            self.open()

    def _on_success(self) -> None:
        self._fail_counter = 0
        if self._state != STATE_CLOSED:
            self.close()

    def _change(
        self,
        state: str,
        *,
        opened_at: float | None,
        changed_at: float | None = None,
        publish: bool = True,
    ) -> None:
        old = self._state
        self._state = state
        self.opened_at = opened_at
        self._changed_at = changed_at if changed_at is not None else self._clock()
        if state == STATE_CLOSED:
            self._fail_counter = 0
        self._set_metric(state)
        if old != state or state == STATE_OPEN:
            log = logger.warning if state != STATE_CLOSED else logger.info
            log(
                "circuit breaker %s: %s -> %s",
                self.name,
                old,
                state,
                extra={"breaker": self.name, "breaker_state": state},
            )
        if publish and self._shared is not None:
            self._publish(state, opened_at, self._changed_at)

    def _publish(self, state: str, opened_at: float | None, changed_at: float) -> None:
        assert self._shared is not None
        key = self._shared.key
        mapping = {"state": state, "opened_at": opened_at or "", "changed_at": changed_at}

        async def write(redis: Redis) -> None:
            try:
                await redis.hset(key, mapping=mapping)  # type: ignore[arg-type]
            except Exception:
                logger.warning("could not share breaker %s state", self.name, exc_info=True)

        self._shared.spawn(write)

    def _ensure_refreshing(self) -> None:
        if self._shared is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._refresher is None or self._refresher.get_loop() is not loop:
            self._refresher = self._shared.spawn(self._refresh_forever)

    async def _refresh_forever(self, _: Redis) -> None:
        assert self._shared is not None
        while True:
            try:
                await self.refresh()
            except Exception as error:
                logger.debug("breaker %s: shared state unreadable: %r", self.name, error)
            await asyncio.sleep(self._shared.refresh_seconds)

    def _set_metric(self, state: str) -> None:
        CIRCUIT_BREAKER_STATE.labels(name=self.name).set(_STATE_VALUES[state])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def create_breaker(
    name: str,
    *,
    fail_max: int,
    reset_timeout_seconds: float,
    exclude: Iterable[type[BaseException]] = (),
    redis_url: str | None = None,
    redis_namespace: str = "",
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
) -> CircuitBreaker:
    """A breaker named `name`; with `redis_url` its state is shared by every replica."""
    shared = None
    if redis_url is not None:
        shared = SharedBreakerState(redis_url, f"{redis_namespace}{name}", refresh_seconds)
    return CircuitBreaker(
        name,
        fail_max=fail_max,
        reset_timeout_seconds=reset_timeout_seconds,
        exclude=exclude,
        shared=shared,
    )


def is_open(breaker: CircuitBreaker) -> bool:
    return breaker.current_state == STATE_OPEN


def seconds_until_trial(breaker: CircuitBreaker) -> float:
    """How long an open breaker still refuses calls; 0 when a trial call may go through."""
    return breaker.seconds_until_trial()


def breaker_probe(breaker: CircuitBreaker) -> Any:
    """A readiness probe that fails while the breaker is open."""

    async def probe() -> None:
        if is_open(breaker):
            raise RuntimeError(
                f"circuit breaker {breaker.name} is open "
                f"(next trial in {seconds_until_trial(breaker):.1f}s)"
            )

    return probe
