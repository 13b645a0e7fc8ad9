from __future__ import annotations

from pydantic import PostgresDsn

from service_kit.settings import KafkaSettings, PostgresSettings


class BookingCommandSettings(PostgresSettings, KafkaSettings):
    service_name: str = "booking-command"
    http_port: int = 8001
    database_url: PostgresDsn = PostgresDsn(
        "postgresql://postgres@127.0.0.1:5432/ticketing_booking"
    )
