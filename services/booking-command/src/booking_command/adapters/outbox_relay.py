"""The transactional outbox: follows the event store's notification log into Kafka.

Each round reads the notifications after the recorded position, publishes them
(keyed by show id, in log order), waits for every acknowledgement and only then
records the new position. A crash before that record re-publishes the same
messages with the same event ids: at least once, in order per key, no gaps (the
event store commits notifications in id order, so reading past one is safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from eventsourcing.persistence import Notification, Tracking

from booking_command.adapters.metrics import OUTBOX_PUBLISHED_EVENTS
from booking_command.adapters.public_events import OutboundMessage, OutboxMapper
from booking_command.adapters.relay_leadership import RelayLeadership
from booking_command.application.app import OUTBOX_RELAY_TRACKING, BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from service_kit.metrics import OUTBOX_PENDING_EVENTS

logger = logging.getLogger(__name__)


class Producer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> Awaitable[Any]: ...


class OutboxRelay:
    def __init__(
        self,
        app: BookingCommandApplication,
        executor: EventStoreExecutor,
        mapper: OutboxMapper,
        producer_factory: Callable[[], Producer],
        *,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.2,
        retry_max_seconds: float = 5.0,
        prepare: Callable[[], Awaitable[None]] | None = None,
        leadership: RelayLeadership | None = None,
    ) -> None:
        self.app = app
        self.executor = executor
        self.mapper = mapper
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.retry_max_seconds = retry_max_seconds
        self._prepare = prepare
        self.leadership = leadership
        self._producer: Producer | None = None
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.last_success = time.monotonic()

    def wake(self) -> None:
        """Called after a local commit so new events go out without waiting for the poll."""
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_producer()
        if self.leadership is not None:
            await self.executor.run(self.leadership.release)

    async def _may_publish(self) -> bool:
        if self.leadership is None:
            return True
        return await self.executor.run(self.leadership.claim)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def probe(self) -> None:
        if not self.alive:
            raise RuntimeError("the outbox relay is not running")

    async def run(self) -> None:
        delay = 0.1
        prepared = self._prepare is None
        while True:
            try:
                if not prepared and self._prepare is not None:
                    await self._prepare()
                    prepared = True
                if not await self._may_publish():
                    await self._close_producer()
                    await asyncio.sleep(self.idle_poll_seconds)
                    continue
                published = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.last_error = f"{type(error).__name__}: {error}"
                logger.warning("outbox relay failed, retrying in %.1fs: %s", delay, self.last_error)
                await self._close_producer()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_seconds)
                continue
            delay = 0.1
            self.last_error = None
            self.last_success = time.monotonic()
            if published < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.idle_poll_seconds)
                self._wakeup.clear()

    async def publish_pending(self) -> int:
        """Publishes one batch after the recorded position; returns how many it covered."""
        position = await self.executor.run(self.app.outbox_position)
        notifications: Sequence[Notification] = await self.executor.run(
            self.app.recorder.select_notifications,
            position,
            self.batch_size,
            inclusive_of_start=False,
        )
        if not notifications:
            await self._observe_pending(position)
            return 0
        messages = [self.mapper.message_for(notification) for notification in notifications]
        await self.publish([message for message in messages if message is not None])
        last = notifications[-1].id
        await self.executor.run(
            self.app.booking_recorder.insert_tracking, Tracking(OUTBOX_RELAY_TRACKING, last)
        )
        await self._observe_pending(last)
        return len(notifications)

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        if not messages:
            return
        producer = await self._started_producer()
        # One producer keeps one request in flight per broker, so sends stay in log order.
        acknowledgements = [
            await producer.send(
                message.topic, value=message.value, key=message.key, headers=message.headers
            )
            for message in messages
        ]
        await asyncio.gather(*acknowledgements)
        for message in messages:
            OUTBOX_PUBLISHED_EVENTS.labels(topic=message.topic).inc()

    async def _observe_pending(self, position: int) -> None:
        newest = await self.executor.run(self.app.recorder.max_notification_id)
        OUTBOX_PENDING_EVENTS.set(max(0, (newest or 0) - position))

    async def _started_producer(self) -> Producer:
        if self._producer is None:
            producer = self.producer_factory()
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
