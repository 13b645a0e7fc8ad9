from pathlib import Path
from typing import Annotated

import pytest
from pydantic import AnyUrl, PostgresDsn

from service_kit.settings import (
    ConfigurationError,
    Dependency,
    JwtSettings,
    KafkaSettings,
    PostgresSettings,
    RedisSettings,
    ServiceSettings,
    load_settings,
    setting_dependencies,
)

STRONG_SECRET = "k3Jq9vX2pL7mN4bR8tY1wZ6cF0hD5sGa"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("JWT_SECRET", "DATABASE_URL", "ENVIRONMENT", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_refuses_to_start_without_a_jwt_secret() -> None:
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        load_settings(JwtSettings)


def test_refuses_a_jwt_secret_shorter_than_32_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "too-short-1234")
    message = r"JWT_SECRET: .*at least 32 characters \(got 14\)"
    with pytest.raises(ConfigurationError, match=message):
        load_settings(JwtSettings)


@pytest.mark.parametrize(
    "placeholder",
    [
        "changeme-changeme-changeme-changeme",
        "your-jwt-secret-goes-here-please-now",
        "a" * 40,
        "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        "todo_fill_in_before_go_live_2026_12",
    ],
)
def test_refuses_a_placeholder_jwt_secret(
    monkeypatch: pytest.MonkeyPatch, placeholder: str
) -> None:
    monkeypatch.setenv("JWT_SECRET", placeholder)
    with pytest.raises(ConfigurationError, match="placeholder"):
        load_settings(JwtSettings)


@pytest.mark.parametrize(
    "random_secret",
    [
        "uBcWXXxmaacv0LMDWYnUgicaQ7r2Kd9Vf1Tz6Hj3Lp84s39x0NY5Aj8dRjHdVq7MNN",
        "Pz4ToDoq8Wn2Rk7Vb1Lc9Xm3Ht6Jd0Fs5Gy8Qa4Ue2Io7",
        "r8N2dummY5kQ1vL7zX4cT9bW3mH6pF0jS2gD8aE5uY1i",
    ],
    ids=["xxx-inside", "todo-inside", "dummy-inside"],
)
def test_accepts_a_random_secret_that_happens_to_contain_a_short_placeholder_word(
    monkeypatch: pytest.MonkeyPatch, random_secret: str
) -> None:
    monkeypatch.setenv("JWT_SECRET", random_secret)
    assert load_settings(JwtSettings).jwt_secret.get_secret_value() == random_secret


def test_accepts_a_strong_jwt_secret_and_keeps_it_out_of_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWT_SECRET", STRONG_SECRET)
    settings = load_settings(JwtSettings)
    assert settings.jwt_secret.get_secret_value() == STRONG_SECRET
    assert STRONG_SECRET not in repr(settings)


def test_reads_settings_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"JWT_SECRET={STRONG_SECRET}\n")
    assert load_settings(JwtSettings).jwt_secret.get_secret_value() == STRONG_SECRET


def test_production_refuses_a_database_url_without_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="real password in production"):
        load_settings(PostgresSettings)
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:changeme@db:5432/events")
    with pytest.raises(ConfigurationError, match="real password in production"):
        load_settings(PostgresSettings)


def test_production_accepts_a_database_url_with_a_real_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:Zq81vLr0pW@db:5432/events")
    assert load_settings(PostgresSettings).database_dsn.startswith("postgresql://app:")


def test_refuses_a_database_url_that_is_not_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/db")
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        load_settings(PostgresSettings)


@pytest.mark.parametrize("bootstrap", ["", "kafka", "kafka:port", "kafka:99999"])
def test_refuses_malformed_kafka_bootstrap_servers(
    monkeypatch: pytest.MonkeyPatch, bootstrap: str
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    with pytest.raises(ConfigurationError, match="KAFKA_BOOTSTRAP_SERVERS"):
        load_settings(KafkaSettings)


def test_normalises_a_kafka_bootstrap_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", " k1:9092, k2:9093 ,")
    assert load_settings(KafkaSettings).kafka_bootstrap_servers == "k1:9092,k2:9093"


class _StoreSettings(PostgresSettings, RedisSettings, KafkaSettings):
    # A service's own default for the database, declared again without the mark.
    database_url: PostgresDsn = PostgresDsn("postgresql://postgres@127.0.0.1:5432/store")


def test_names_what_each_store_setting_connects_to_even_when_a_service_redeclares_it() -> None:
    assert setting_dependencies(_StoreSettings) == {
        "database_url": Dependency.POSTGRESQL,
        "redis_url": Dependency.REDIS,
        "kafka_bootstrap_servers": Dependency.KAFKA,
    }
    assert setting_dependencies(JwtSettings) == {}


class _MailSettings(ServiceSettings):
    smtp_url: Annotated[AnyUrl, Dependency.SMTP] | None = None
    relay_url: Annotated[AnyUrl | None, Dependency.SMTP] = None


def test_an_optional_setting_keeps_its_mark_on_either_side_of_the_none() -> None:
    assert setting_dependencies(_MailSettings) == {
        "smtp_url": Dependency.SMTP,
        "relay_url": Dependency.SMTP,
    }


def test_a_dependency_mark_leaves_validation_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "http://redis:6379/0")
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        load_settings(RedisSettings)
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    assert str(load_settings(RedisSettings).redis_url) == "redis://redis:6379/0"
