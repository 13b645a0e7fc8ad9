"""Kafka's copy of a subscriber's positions, for lag tooling (`kafka-consumer-groups`).

The positions themselves are stored by the service with each batch's effects; Kafka's
committed offsets only mirror them. A copy goes out with every other partition handled
within `consumer_offset_copy_seconds`, in one commit request off the consuming path, and
once more when the consumer stops. A failed copy is due again: the next one carries it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

logger = logging.getLogger(__name__)

OFFSET_COPY_SHUTDOWN_SECONDS = 2.0


class OffsetCopies:
    def __init__(
        self,
        name: str,
        *,
        interval_seconds: float,
        consumer: Callable[[], AIOKafkaConsumer | None],
    ) -> None:
        self._name = name
        self._interval_seconds = interval_seconds
        self._consumer = consumer
        self._due: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None

    def queue(self, tp: TopicPartition, next_offset: int) -> None:
        """The subscriber stored `next_offset` for `tp`: Kafka gets it with the next copy."""
        if self._consumer() is None:
            return
        self._due[tp] = next_offset
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._send_after_interval())

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._due.pop(tp, None)

    async def send_now(self) -> None:
        """Before the consumer stops, so tooling sees the last positions (bounded: a broker
        that is away must not hold up the shutdown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])  # its cut-off copies are due again
        try:
            async with asyncio.timeout(OFFSET_COPY_SHUTDOWN_SECONDS):
                await self._send()
        except TimeoutError:
            logger.debug("%s: the last offset copy was not sent in time", self._name)

    async def _send_after_interval(self) -> None:
        await asyncio.sleep(self._interval_seconds)
        await self._send()

    async def _send(self) -> None:
        copies, self._due = self._due, {}
        consumer = self._consumer()
        if not copies or consumer is None:
            return
        sent = False
        try:
            await consumer.commit(copies)
            sent = True
        except Exception as error:  # the database holds the offsets; Kafka's copy is for tooling
            logger.debug("%s: committing the offset copy failed: %r", self._name, error)
        finally:
            if not sent:  # failed or cancelled: due again, unless a newer position came since
                for tp, offset in copies.items():
                    self._due.setdefault(tp, offset)
