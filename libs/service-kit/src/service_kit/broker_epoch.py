"""Which broker a service's stored positions belong to, and recovery when the broker changed.

The event store and the outbox tables are the durable record; the broker is a transport.
A service stores the broker's cluster id in its own database. Real Kafka gives a rebuilt
cluster a new id (the local broker gets one at every start), so at start-up, before the
runtime runs, a different id means the topics the service published to and the offsets it
stored are gone: the service's `adopt` republishes its durable log and drops the old
broker's offsets, storing the new id in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiokafka.admin import AIOKafkaAdminClient

from service_kit.kafka_security import kafka_client_options
from service_kit.metrics import BROKER_CHANGES
from service_kit.settings import KafkaSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerRecovery:
    """What a service did for a new broker, in words an operator reads in the log."""

    republished: str
    dropped_offsets: str


class BrokerChanged(RuntimeError):
    """The broker that answers is not the one the service's stored positions belong to (yet):
    nothing may be published to it before the service has recovered."""


class BrokerEpoch(Protocol):
    """A service's record of the broker its positions belong to, in its own database."""

    async def stored_cluster_id(self) -> str | None:
        """The cluster id stored with the service's positions (None: never stored)."""
        ...

    async def record_cluster_id(self, cluster_id: str) -> None:
        """First start: store the id, nothing else (a replica that stored it first wins)."""
        ...

    async def adopt(self, cluster_id: str) -> BrokerRecovery | None:
        """A new broker: in ONE transaction, drop the old broker's offsets, mark the durable
        log for republishing and store `cluster_id`. None when the stored id already was
        `cluster_id` inside that transaction (another replica adopted it first)."""
        ...


async def broker_cluster_id(settings: KafkaSettings, *, timeout_seconds: float = 10.0) -> str:
    """The cluster id the broker reports (Kafka's DescribeCluster), through a new client."""
    admin = AIOKafkaAdminClient(
        **kafka_client_options(settings), request_timeout_ms=int(timeout_seconds * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_seconds)
        return await cluster_id_of(admin, timeout_seconds=timeout_seconds)
    finally:
        await admin.close()


async def cluster_id_of(admin: AIOKafkaAdminClient, *, timeout_seconds: float) -> str:
    """The cluster id the broker reports to a started admin client."""
    description = await asyncio.wait_for(admin.describe_cluster(), timeout_seconds)
    cluster_id = description.get("cluster_id")
    if not isinstance(cluster_id, str) or not cluster_id:
        raise RuntimeError(f"the broker reported no cluster id: {description!r}")
    return cluster_id


async def reconcile_broker(
    service: str, epoch: BrokerEpoch, cluster_id: str
) -> BrokerRecovery | None:
    """The start-up step: compare the broker's id with the stored one and recover once.

    Returns what was done when the broker changed (None when nothing had to be done)."""
    stored = await epoch.stored_cluster_id()
    if stored is None:
        await epoch.record_cluster_id(cluster_id)
        logger.info("%s: broker cluster id %s recorded", service, cluster_id)
        return None
    if stored == cluster_id:
        return None
    recovery = await epoch.adopt(cluster_id)
    if recovery is None:
        logger.info("%s: broker cluster id %s already adopted by a replica", service, cluster_id)
        return None
    BROKER_CHANGES.labels(service=service).inc()
    logger.warning(
        "%s: the Kafka broker changed (cluster id %s -> %s): its topics were lost or rebuilt; "
        "republishing %s; dropped %s",
        service,
        stored,
        cluster_id,
        recovery.republished,
        recovery.dropped_offsets,
        extra={
            "previous_cluster_id": stored,
            "cluster_id": cluster_id,
            "republished": recovery.republished,
            "dropped_offsets": recovery.dropped_offsets,
        },
    )
    return recovery


async def recover_from_broker_change(
    settings: KafkaSettings, epoch: BrokerEpoch
) -> BrokerRecovery | None:
    """What every Kafka service runs before its runtime starts."""
    cluster_id = await broker_cluster_id(settings)
    return await reconcile_broker(settings.service_name, epoch, cluster_id)


class BrokerWatch:
    """While the service runs: notices that its broker was replaced and recovers in place.

    The same step as at start-up (`reconcile_broker`), then every subscription of the runtime
    reads its stored positions again (the recovery dropped the old broker's) and the service's
    `after_recovery` runs (e.g. its relay picks up the republishing at once).

    Publishers call `confirm()` before each send: a new cluster must receive the republished
    log first, in log order, so nothing may reach it before the service adopted it. A record
    sent to it earlier would sit ahead of the facts it follows, and a read model rebuilt from
    that cluster would keep it and skip its later, in-order copy as a duplicate.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        epoch: BrokerEpoch,
        reposition: Callable[[], None],
        identify: Callable[[], Awaitable[str]],
        *,
        interval_seconds: float = 5.0,
        after_recovery: Callable[[], Awaitable[None]] | None = None,
        confirmed_for_seconds: float = 0.5,
    ) -> None:
        self._settings = settings
        self._identify = identify
        self._epoch = epoch
        self._reposition = reposition
        self._interval = interval_seconds
        self._after_recovery = after_recovery
        # Replacing a cluster (a broker process gone, a new one formatted and started) takes
        # seconds, so a confirmation this recent still holds for the next send.
        self._confirmed_for = confirmed_for_seconds
        self._confirmed_until = 0.0
        self._known: str | None = None  # the cluster this process's positions belong to
        self._check_now = asyncio.Event()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._check_now.wait()
            self._check_now.clear()
            try:
                await self.check()
            except Exception as error:  # e.g. the service's database restarting: next round
                logger.warning("broker check failed, trying again: %r", error)

    async def check(self) -> BrokerRecovery | None:
        try:
            cluster_id = await self._identify()
        except Exception as error:  # the broker is away: nothing to compare until it answers
            logger.debug("broker identity unknown for now: %r", error)
            return None
        if cluster_id == await self._known_cluster_id():
            return None
        recovery = await reconcile_broker(self._settings.service_name, self._epoch, cluster_id)
        # Also when another replica adopted the new broker first: our positions changed too.
        self._reposition()
        if self._after_recovery is not None:
            await self._after_recovery()
        self._known = cluster_id
        self._confirmed_until = 0.0
        return recovery

    async def confirm(self) -> None:
        """Returns when the broker answering is the one the stored positions belong to; raises
        `BrokerChanged` (and has the watch recover at once) when it is not."""
        asked_at = time.monotonic()
        if asked_at < self._confirmed_until:
            return
        cluster_id = await self._identify()
        known = await self._known_cluster_id()
        if cluster_id != known:
            # Not recovered inline: the caller may hold rows that the recovery must update.
            self._check_now.set()
            raise BrokerChanged(
                f"the broker is now cluster {cluster_id}, the stored positions belong to "
                f"{known}: publishing waits for the recovery"
            )
        self._confirmed_until = asked_at + self._confirmed_for

    async def _known_cluster_id(self) -> str | None:
        if self._known is None:
            self._known = await self._epoch.stored_cluster_id()
        return self._known
