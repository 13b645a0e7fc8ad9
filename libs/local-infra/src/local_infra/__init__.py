"""Real PostgreSQL, Redis and Apache Kafka on loopback, for local runs and tests."""

from local_infra.broker import KafkaBroker, create_topics
from local_infra.errors import InfrastructureUnavailable, ServiceStartError
from local_infra.postgres import create_database, drop_database, ensure_postgres
from local_infra.redis_server import ensure_redis
from local_infra.stack import Stack, StackConfig
from local_infra.stack_state import ServiceProcess, StackInfo

__all__ = [
    "InfrastructureUnavailable",
    "KafkaBroker",
    "ServiceProcess",
    "ServiceStartError",
    "Stack",
    "StackConfig",
    "StackInfo",
    "create_database",
    "create_topics",
    "drop_database",
    "ensure_postgres",
    "ensure_redis",
]
