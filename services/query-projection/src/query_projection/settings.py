from __future__ import annotations

from pydantic import PostgresDsn

from service_kit.settings import KafkaSettings, PostgresSettings, RedisSettings


class QueryProjectionSettings(PostgresSettings, KafkaSettings, RedisSettings):
    service_name: str = "query-projection"
    http_port: int = 8003
    database_url: PostgresDsn = PostgresDsn("postgresql://postgres@127.0.0.1:5432/ticketing_query")
