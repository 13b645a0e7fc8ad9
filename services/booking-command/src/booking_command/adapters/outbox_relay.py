"""The transactional outbox: follows the event store's notification log into Kafka.

Each round reads the notifications after the recorded position, publishes them
(keyed by show id, in log order) through the service's Kafka runtime, which waits for
every acknowledgement, and only then records the new position. A crash before that
record re-publishes the same messages with the same event ids: at least once, in order
per key, no gaps (the event store commits notifications in id order, so reading past
one is safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from eventsourcing.persistence import Notification, Tracking
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from booking_command.adapters.metrics import OUTBOX_PUBLISHED_EVENTS
from booking_command.adapters.public_events import OutboxMapper
from booking_command.adapters.relay_leadership import RelayLeadership
from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from service_kit.background import BackgroundTask
from service_kit.kafka.messages import OutboundMessage
from service_kit.metrics import OUTBOX_PENDING_EVENTS, RETRIES

logger = logging.getLogger(__name__)

Publish = Callable[[Sequence[OutboundMessage]], Awaitable[None]]

RETRY_INITIAL_SECONDS = 0.1


class OutboxRelay:
    def __init__(
        self,
        app: BookingCommandApplication,
        executor: EventStoreExecutor,
        mapper: OutboxMapper,
        publish: Publish,
        *,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.2,
        retry_max_seconds: float = 5.0,
        leadership: RelayLeadership | None = None,
    ) -> None:
        self.app = app
        self.executor = executor
        self.mapper = mapper
        self._publish = publish
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.retry_max_seconds = retry_max_seconds
        self.leadership = leadership
        self._wakeup = asyncio.Event()
        self._task = BackgroundTask("outbox-relay", self.run)
        self.last_error: str | None = None
        self.last_success = time.monotonic()

    def wake(self) -> None:
        """Called after a local commit so new events go out without waiting for the poll."""
        self._wakeup.set()

    def start(self) -> None:
        self._task.start()

    async def stop(self, *, final_round_seconds: float = 0.0) -> None:
        """Stops the loop; with `final_round_seconds`, the leader first publishes what is new."""
        await self._task.stop()
        if final_round_seconds and (self.leadership is None or self.leadership.is_leader):
            try:
                await asyncio.wait_for(self.publish_pending(), final_round_seconds)
            except Exception as error:
                logger.info("final outbox round skipped: %s", error)
        if self.leadership is not None:
            await self.executor.run(self.leadership.release)

    @property
    def alive(self) -> bool:
        return self._task.alive

    async def probe(self) -> None:
        await self._task.probe()

    async def run(self) -> None:
        while True:
            published = await self._round_with_backoff()
            if published is None or published < self.batch_size:
                # Not wait_for: on Python 3.11 it can swallow a cancellation that arrives
                # as the wake-up completes, and stop() would wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.idle_poll_seconds):
                        await self._wakeup.wait()
                self._wakeup.clear()

    async def _round_with_backoff(self) -> int | None:
        """One round, retried with backoff until it passes; None when another replica leads."""

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            self.last_error = f"{type(error).__name__}: {error}"
            RETRIES.labels(operation="outbox-relay").inc()
            logger.warning(
                "outbox relay failed (attempt %d), backing off: %s",
                state.attempt_number,
                self.last_error,
            )

        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(
                multiplier=RETRY_INITIAL_SECONDS,
                max=self.retry_max_seconds,
                jitter=RETRY_INITIAL_SECONDS,
            ),
            retry=retry_if_exception_type(Exception),
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if not await self._may_publish():
                    return None
                published = await self.publish_pending()
                self.last_error = None
                self.last_success = time.monotonic()
                return published
        raise AssertionError("unreachable: tenacity retries until the round passes")

    async def _may_publish(self) -> bool:
        if self.leadership is None:
            return True
        return await self.executor.run(self.leadership.claim)

    async def publish_pending(self) -> int:
        """Publishes one batch after the recorded position; returns how many it covered."""
        # The stream of the broker this round reads for: if a broker recovery switches streams
        # meanwhile, this round's progress stays with the old broker's stream.
        stream = self.app.outbox_stream
        position = await self.executor.run(self.app.outbox_position, stream)
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
        await self.executor.run(self.app.booking_recorder.insert_tracking, Tracking(stream, last))
        await self._observe_pending(last)
        return len(notifications)

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Sends in log order and returns once every message is acknowledged."""
        if not messages:
            return
        await self._publish(messages)
        for message in messages:
            OUTBOX_PUBLISHED_EVENTS.labels(topic=message.topic).inc()

    async def _observe_pending(self, position: int) -> None:
        newest = await self.executor.run(self.app.recorder.max_notification_id)
        OUTBOX_PENDING_EVENTS.set(max(0, (newest or 0) - position))
