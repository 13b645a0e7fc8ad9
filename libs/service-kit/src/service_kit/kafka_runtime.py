"""The old import path of the Kafka runtime (now `service_kit.kafka`), kept only because
libs/local-infra/tests/test_broker.py imports it; delete it once that test imports
`service_kit.kafka.runtime.KafkaRuntime` and `service_kit.kafka.messages.OutboundMessage`."""

from service_kit.kafka.messages import OutboundMessage
from service_kit.kafka.runtime import KafkaRuntime

__all__ = ["KafkaRuntime", "OutboundMessage"]
