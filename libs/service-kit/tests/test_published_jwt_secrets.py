"""JWT secrets written into this repository are public: production refuses them."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from service_kit.settings import (
    KNOWN_TEST_JWT_SECRETS,
    ConfigurationError,
    JwtSettings,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[3]
UNIT_TESTS_SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"
# A string literal of 32+ characters assigned to a name or key that says SECRET.
_SECRET_LITERAL = re.compile(r"""SECRET\w*["']?\s*[:=]\s*["']([A-Za-z0-9_\-]{32,})["']""")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("JWT_SECRET", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_production_refuses_the_unit_tests_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", UNIT_TESTS_SECRET)
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="test secret published in this repository"):
        load_settings(JwtSettings)


def test_tests_may_still_use_it_outside_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", UNIT_TESTS_SECRET)
    monkeypatch.setenv("ENVIRONMENT", "test")
    assert load_settings(JwtSettings).jwt_secret.get_secret_value() == UNIT_TESTS_SECRET


def test_production_accepts_a_freshly_generated_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", secrets.token_urlsafe(48))
    monkeypatch.setenv("ENVIRONMENT", "production")
    assert load_settings(JwtSettings).is_production


def test_every_jwt_secret_written_in_the_tests_is_refused_in_production() -> None:
    """A new test secret added anywhere in the tests must join the denylist."""
    written = set()
    for path in [
        *ROOT.glob("services/*/tests/**/*.py"),
        *ROOT.glob("libs/*/tests/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
    ]:
        written |= set(_SECRET_LITERAL.findall(path.read_text(encoding="utf-8")))
    assert UNIT_TESTS_SECRET in written
    assert written <= KNOWN_TEST_JWT_SECRETS, written - KNOWN_TEST_JWT_SECRETS
