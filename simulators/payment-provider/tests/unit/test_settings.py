from __future__ import annotations

import pytest

from payment_simulator.settings import PaymentSimulatorSettings
from service_kit.settings import ConfigurationError, load_settings

GOOD_KEY = "Zq8v2LmNp4Rt6Wy9Bd3Fh5JkAb"


def test_refuses_to_start_without_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYMENT_SIMULATOR_SECRET_KEY", raising=False)
    monkeypatch.chdir("/")

    with pytest.raises(ConfigurationError, match="PAYMENT_SIMULATOR_SECRET_KEY"):
        load_settings(PaymentSimulatorSettings)


@pytest.mark.parametrize(
    "key", ["Zq8v2LmNp4Rt6", "changeme-changeme-changeme", "Zq8v2LmNp4 Rt6Wy9Bd3Fh5JkAb"]
)
def test_refuses_weak_keys(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("PAYMENT_SIMULATOR_SECRET_KEY", key)

    with pytest.raises(ConfigurationError, match="PAYMENT_SIMULATOR_SECRET_KEY"):
        load_settings(PaymentSimulatorSettings)


def test_reads_its_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_SIMULATOR_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("PAYMENT_SIMULATOR_TIMEOUT_DELAY_SECONDS", "1.5")

    settings = load_settings(PaymentSimulatorSettings)

    assert settings.secret_key.get_secret_value() == GOOD_KEY
    assert settings.timeout_delay_seconds == 1.5
    assert settings.database_dsn.endswith("/payment_simulator")
