"""Wires the notifications service: the only place that builds adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager

import aiosmtplib
import asyncpg
import httpx
from aiokafka import TopicPartition
from fastapi import FastAPI

from notifications.adapters import metrics
from notifications.adapters.broker_epoch import BROKER_EPOCH_TABLE, read_again_from_the_start
from notifications.adapters.entry_tickets import (
    Authorization,
    HttpEntryTickets,
    no_service_credential,
)
from notifications.adapters.postgres_schema import create_schema
from notifications.adapters.postgres_store import (
    PostgresFactStore,
    PostgresNoticeAdmin,
    PostgresNoticeQueue,
)
from notifications.adapters.smtp_transport import RefusedForGood, SmtpTransport
from notifications.adapters.templates import JinjaMailTemplates
from notifications.application.record_facts import RecordFacts
from notifications.application.send_notices import Outcome, RetryPolicy, SendDueNotice
from notifications.entrypoints.http import notices
from notifications.entrypoints.subscribers import subscribe
from notifications.settings import NotificationsSettings, SmtpSecurity
from service_kit.app_factory import create_service_app, health_registry_for, service_token_issuer
from service_kit.background import WokenRounds
from service_kit.broker_epoch import recover_from_broker_change
from service_kit.circuit_breakers import breaker_probe, create_breaker
from service_kit.dead_letter_routes import dead_letter_router
from service_kit.dependency_probes import postgres_pool_probe
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka_topics import ensure_topics
from service_kit.postgres_broker_epoch import PostgresBrokerEpoch
from ticketing_contracts.internal_http import ENTRY

logger = logging.getLogger(__name__)

FIGURES_SECONDS = 5.0


def entry_credential(settings: NotificationsSettings) -> Authorization:
    """notifications' own token for entry, signed with SERVICE_TOKEN_PRIVATE_KEY."""
    issuer = service_token_issuer(settings)
    if issuer is None:
        return no_service_credential
    return lambda: issuer.service_authorization(ENTRY)


class Notifications:
    """Every long-lived object of the service, started and stopped together."""

    def __init__(
        self, settings: NotificationsSettings, *, entry_authorization: Authorization | None = None
    ) -> None:
        self.settings = settings
        self.entry_authorization = entry_authorization or entry_credential(settings)
        self.runtime = KafkaRuntime(settings)
        # A permanent refusal is the mail's problem, not the relay's health.
        self.smtp_breaker = create_breaker(
            "smtp",
            fail_max=settings.breaker_fail_max,
            reset_timeout_seconds=settings.breaker_reset_seconds,
            exclude=(RefusedForGood,),
        )
        self.entry_breaker = create_breaker(
            "entry",
            fail_max=settings.breaker_fail_max,
            reset_timeout_seconds=settings.breaker_reset_seconds,
        )
        self._pool: asyncpg.Pool | None = None
        self._http: httpx.AsyncClient | None = None
        self._record_facts: RecordFacts | None = None
        self._send: SendDueNotice | None = None
        # Each sender takes the next due row as soon as its last mail is done: one slow
        # relay conversation or PDF holds back no other mail.
        self.senders = [
            WokenRounds(
                f"mail sender {number}", self._send_one, idle_seconds=settings.sender_idle_seconds
            )
            for number in range(1, settings.sender_concurrency + 1)
        ]
        self.figures = WokenRounds(
            "outbox figures", self._observe_figures, idle_seconds=FIGURES_SECONDS
        )
        self.subscription = subscribe(
            self.runtime,
            settings,
            self._connected_record_facts,
            self._stored_offsets,
            after_commit=self.wake_senders,
        )

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    def _connected_record_facts(self) -> RecordFacts:
        if self._record_facts is None:
            raise RuntimeError("the service has not started")
        return self._record_facts

    async def _stored_offsets(
        self, partitions: Collection[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        return await PostgresFactStore(self.pool).next_offsets(partitions)

    @property
    def admin(self) -> PostgresNoticeAdmin:
        return PostgresNoticeAdmin(self.pool)

    def wake_senders(self) -> None:
        for sender in self.senders:
            sender.wake()

    async def senders_probe(self) -> None:
        for sender in self.senders:
            await sender.task.probe()

    async def _send_one(self) -> bool:
        """One due mail, on its own held row; more may be due when there was one."""
        if self._send is None:
            raise RuntimeError("the service has not started")
        attempted = await self._send()
        if attempted is None:
            return False
        metrics.NOTICE_ATTEMPTS.labels(
            kind=attempted.kind.value, outcome=attempted.outcome.value
        ).inc()
        if attempted.outcome is not Outcome.SENT:
            # A deferral is routine (entry behind, relay away); giving up is not.
            level = logging.INFO if attempted.outcome is Outcome.DEFERRED else logging.WARNING
            logger.log(
                level,
                "a %s notice was not sent",
                attempted.kind.value,
                extra={"outcome": attempted.outcome.value, "error": attempted.error},
            )
        return True

    async def _observe_figures(self) -> bool:
        figures = await self.admin.figures()
        metrics.PENDING.set(figures.pending)
        metrics.OLDEST_PENDING_SECONDS.set(figures.oldest_pending_seconds)
        metrics.FAILED.set(figures.failed)
        return False

    async def start(self) -> None:
        settings = self.settings
        self._pool = await asyncpg.create_pool(
            settings.database_dsn,
            min_size=1,
            max_size=max(settings.database_pool_size, settings.sender_concurrency + 2),
            timeout=5,
            command_timeout=30,
        )
        await create_schema(self.pool)
        await ensure_topics(
            settings,
            (*settings.consumed_topics, settings.dead_letter_topic),
            partitions=settings.topic_partitions,
        )
        self._record_facts = RecordFacts(PostgresFactStore(self.pool))
        self._http = httpx.AsyncClient(timeout=settings.entry_timeout_seconds)
        self._send = SendDueNotice(
            PostgresNoticeQueue(self.pool),
            HttpEntryTickets(
                str(settings.entry_url), self._http, self.entry_breaker, self.entry_authorization
            ),
            SmtpTransport(settings, self.smtp_breaker),
            JinjaMailTemplates(),
            retry=RetryPolicy(
                initial_seconds=settings.retry_initial_seconds,
                max_seconds=settings.retry_max_seconds,
                max_attempts=settings.max_attempts,
            ),
            mail_domain=settings.mail_domain,
            shop_url=str(settings.shop_url),
        )
        if self.entry_authorization is no_service_credential:
            logger.warning(
                "SERVICE_TOKEN_PRIVATE_KEY is not set: entry refuses the tickets' PDF, so "
                "confirmations wait (and are given up on after MAX_ATTEMPTS)"
            )
        epoch = PostgresBrokerEpoch(
            self.pool, on_adopt=read_again_from_the_start, table=BROKER_EPOCH_TABLE
        )
        await recover_from_broker_change(settings, epoch)
        await self.runtime.start()
        self.runtime.watch_broker(epoch)
        for sender in self.senders:
            sender.task.start()
        self.figures.task.start()

    async def stop(self) -> None:
        # The consumer first: nothing new is recorded while the sender finishes its mails.
        if self.runtime.started:
            with contextlib.suppress(Exception):
                await self.runtime.stop()
        await asyncio.gather(*(sender.task.stop() for sender in self.senders))
        await self.figures.task.stop()
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.aclose()
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), 5)
        self._http = None
        self._send = None
        self._record_facts = None
        self._pool = None

    async def smtp_answers(self) -> None:
        """The relay says hello (shown on readiness, never required)."""
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_url.host,
            port=settings.smtp_port,
            use_tls=settings.smtp_security is SmtpSecurity.TLS,
            start_tls=False,
            timeout=2,
        )
        await client.connect()
        try:
            await client.noop()
        finally:
            client.close()


def build_app(
    settings: NotificationsSettings, *, entry_authorization: Authorization | None = None
) -> FastAPI:
    service = Notifications(settings, entry_authorization=entry_authorization)
    health = health_registry_for(settings)

    async def postgres() -> None:
        await postgres_pool_probe(service.pool)()

    async def kafka() -> None:
        await service.runtime.broker_probe()
        await service.runtime.probe()

    health.add("postgres", postgres)
    health.add("kafka", kafka)
    health.add("mail-sender", service.senders_probe)
    # Mail waits in the outbox while the relay or entry is away, and the consumer keeps
    # recording it: taking the pod out of rotation would help nothing. Shown, not required.
    health.add("smtp", service.smtp_answers, required=False)
    health.add("circuit_breaker:smtp", breaker_probe(service.smtp_breaker), required=False)
    health.add("circuit_breaker:entry", breaker_probe(service.entry_breaker), required=False)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = create_service_app(
        settings,
        title="Notifications service",
        description=(
            "E-mails fans from the booking facts: the confirmation with the tickets' PDF, and "
            "notices of cancellation, event cancellation and refund, each sent once per fact "
            "through an outbox. Its HTTP API is for operators only."
        ),
        health=health,
        routers=[
            notices.notices_router(lambda: service.admin),
            dead_letter_router(
                settings, settings.group_id(settings.consumer_group), lambda: service.runtime
            ),
        ],
        lifespan=lifespan,
        openapi_tags=[{"name": notices.TAG, "description": notices.TAG_DESCRIPTION}],
    )
    app.state.service = service
    return app
