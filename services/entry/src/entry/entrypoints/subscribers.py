"""entry's Kafka subscriber: catalog and booking facts, applied to the tickets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from entry.adapters.metrics import FACT_LAG, TICKETS_ISSUED, TICKETS_VOIDED
from entry.application.apply_facts import AppliedBatch, ApplyFacts
from entry.application.messages import DecodedFact, FactBatch, decode_fact
from entry.application.ports import PositionMoved
from entry.settings import EntrySettings
from service_kit.kafka.positions import OffsetsMoved, OffsetStore
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka.subscription import Subscription
from ticketing_contracts.envelope import EventEnvelope


def subscribe_facts(
    runtime: KafkaRuntime,
    settings: EntrySettings,
    apply_facts: Callable[[], ApplyFacts],
    stored_offsets: OffsetStore,
) -> Subscription[DecodedFact]:
    """Registers `apply_facts` on the runtime. `apply_facts` gives the use case once the
    service has connected (the subscription is declared before, so the AsyncAPI document
    describes it)."""

    @runtime.subscriber(
        *settings.consumed_topics,
        group=settings.group_id(settings.consumer_group),
        decode=decode_fact,
        offsets=stored_offsets,
        message_type=EventEnvelope,
        description=(
            "Catalog facts (event names, ticket types, cancellations) and booking facts "
            "(confirmed: tickets issued; cancelled or refunded: tickets voided)"
        ),
    )
    async def apply_ticket_facts(batch: FactBatch) -> None:
        try:
            result = await apply_facts()(batch)
        except PositionMoved as moved:
            raise OffsetsMoved(str(moved)) from moved
        _observe(result)

    return apply_ticket_facts


def _observe(result: AppliedBatch) -> None:
    if result.issued:
        TICKETS_ISSUED.inc(result.issued)
    if result.voided:
        TICKETS_VOIDED.inc(result.voided)
    now = datetime.now(UTC)
    for occurred_at in result.occurred_at:
        FACT_LAG.observe(max((now - occurred_at).total_seconds(), 0.0))
