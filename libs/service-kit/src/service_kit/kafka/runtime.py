"""A service's Kafka runtime: its faststream broker with the subscriptions and publishers it
declares; `start()`, then `stop()`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from service_kit.background import BackgroundTask
from service_kit.broker_epoch import BrokerEpoch, BrokerWatch, cluster_id_of
from service_kit.kafka import retries
from service_kit.kafka.batch_subscriber import register_batch_subscriber
from service_kit.kafka.broker import Publishers, create_broker
from service_kit.kafka.messages import BatchHandler, Decoder, OutboundMessage
from service_kit.kafka.positions import OffsetStore, PositionsOnAssignment
from service_kit.kafka.subscription import Subscription
from service_kit.kafka_security import kafka_client_options
from service_kit.settings import KafkaSettings
from ticketing_contracts import topics

logger = logging.getLogger(__name__)

BodyT = TypeVar("BodyT")


class KafkaRuntime:
    """A service's faststream broker with its subscriptions; `start()`, then `stop()`."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        broker: KafkaBroker | None = None,
        is_transient: Callable[[BaseException], bool] = retries.is_transient,
    ) -> None:
        self.settings = settings
        self.broker = broker or create_broker(settings)
        self.dead_letter_topic = settings.topic(topics.DEAD_LETTERS)
        self.subscriptions: list[Subscription[Any]] = []
        self._publishers = Publishers(self.broker)
        self._assignment_checks: list[Callable[[], Awaitable[Any]]] = []
        self._publish_checks: list[Callable[[], Awaitable[None]]] = []
        self._admin: AIOKafkaAdminClient | None = None
        self._broker_watch: BackgroundTask | None = None
        self._is_transient = is_transient
        self.started = False
        self.publisher(
            self.dead_letter_topic,
            message_type=bytes,
            description=(
                "Messages a consumer gave up on: the original key, value and headers plus "
                "dlt_error, dlt_original_topic/partition/offset, dlt_consumer_group, dlt_service"
            ),
        )

    def publisher(self, topic: str, *, message_type: Any, description: str) -> None:
        """Declares that this service publishes `message_type` on `topic` (for AsyncAPI);
        `publish` then sends that topic's messages through this publisher."""
        self._publishers.declare(topic, message_type=message_type, description=description)

    def subscriber(
        self,
        *topics: str,
        group: str | None,
        decode: Decoder[BodyT],
        offsets: OffsetStore,
        name: str | None = None,
        description: str | None = None,
        message_type: Any = Any,
        dead_letter_group: str | None = None,
    ) -> Callable[[BatchHandler[BodyT]], Subscription[BodyT]]:
        """Registers a batch subscriber on `topics` (already prefixed).

        `group` None reads every partition in every replica (no consumer group); give it a
        `dead_letter_group` so the service's `dead-letters` commands find its dead letters.
        `message_type` documents the body in the AsyncAPI document.
        """

        def register(handle: BatchHandler[BodyT]) -> Subscription[BodyT]:
            subscription: Subscription[BodyT] = Subscription(
                name=name or str(getattr(handle, "__name__", type(handle).__name__)),
                topics=topics,
                group=group,
                decode=decode,
                offsets=offsets,
                handle=handle,
                settings=self.settings,
                is_transient=self._is_transient,
                publish=self.publish,
                dead_letter_topic=self.dead_letter_topic,
                dead_letter_group=dead_letter_group,
            )
            positions_on_assignment = PositionsOnAssignment(
                before=self.before_assignment,
                read=subscription.position,
                forget=subscription.forget,
            )
            subscription.faststream_subscriber = register_batch_subscriber(
                self.broker,
                subscription.consume,
                topics=topics,
                group=group,
                settings=self.settings,
                listener=positions_on_assignment if group is not None else None,
                name=subscription.name,
                description=description or handle.__doc__,
                message_type=message_type,
            )
            self.subscriptions.append(subscription)
            return subscription

        return register

    async def start(self) -> None:
        await self.broker.start()
        self._admin = AIOKafkaAdminClient(**kafka_client_options(self.settings))
        await self._admin.start()
        self.started = True
        for subscription in self.subscriptions:
            subscription.start_lag_checks()

    async def broker_probe(self) -> None:
        """Readiness: the broker answers the runtime's own long-lived admin client (no new
        connection per probe)."""
        if not self.started or not await self.broker.ping(timeout=2):
            raise RuntimeError("the Kafka broker does not answer")

    def check_on_assignment(self, check: Callable[[], Awaitable[Any]]) -> None:
        """Runs `check` (e.g. the broker watch's) whenever the group hands out partitions,
        before their positions are read."""
        self._assignment_checks.append(check)

    async def before_assignment(self) -> None:
        for check in self._assignment_checks:
            try:
                await check()
            except Exception as error:  # the periodic watch tries again
                logger.warning("check before reading new partitions failed: %r", error)

    def watch_broker(
        self,
        epoch: BrokerEpoch,
        *,
        after_recovery: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Once started: a `BrokerWatch` on `epoch` runs until `stop()`, before each group
        assignment and before every publish (nothing reaches a broker not yet adopted)."""
        watch = BrokerWatch(
            self.settings,
            epoch,
            self.reposition,
            self.cluster_id,
            interval_seconds=self.settings.broker_check_seconds,
            after_recovery=after_recovery,
        )
        self.check_on_assignment(watch.check)
        self.check_before_publishing(watch.confirm)
        self._broker_watch = BackgroundTask("broker watch", watch.run)
        self._broker_watch.start()

    def check_before_publishing(self, check: Callable[[], Awaitable[None]]) -> None:
        """Runs `check` (e.g. the broker watch's `confirm`) before every publish; when it
        raises, nothing is sent."""
        self._publish_checks.append(check)

    async def cluster_id(self, *, timeout_seconds: float = 5.0) -> str:
        """The cluster id the broker reports, asked through the runtime's long-lived admin
        client."""
        if self._admin is None:
            raise RuntimeError("the Kafka runtime is not running")
        return await cluster_id_of(self._admin, timeout_seconds=timeout_seconds)

    def reposition(self) -> None:
        """Every subscription reads its stored positions again before its next batch (the
        service's database moved them, e.g. after a broker change)."""
        for subscription in self.subscriptions:
            subscription.forget(list(subscription.handled_offsets()))

    async def stop(self) -> None:
        self.started = False
        if self._broker_watch is not None:
            await self._broker_watch.stop()
        for subscription in self.subscriptions:
            await subscription.stop_lag_checks()
            await subscription.send_offset_copies_now()
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
        await self.broker.stop()

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Sends in order and waits for every acknowledgement (keyed order holds per partition)."""
        for check in self._publish_checks:
            await check()
        await self._publishers.publish(messages)

    async def probe(self) -> None:
        """Readiness: the broker is connected and every subscriber is running."""
        if not self.started:
            raise RuntimeError("the Kafka runtime is not running")
        for subscription in self.subscriptions:
            subscriber = subscription.faststream_subscriber
            if subscriber is not None and not subscriber.running:
                raise RuntimeError(f"subscriber {subscription.name} is not running")
