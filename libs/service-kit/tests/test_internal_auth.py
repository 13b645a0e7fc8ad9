"""Internal tokens: the gateway's as before, each service's own, and who may call where."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import APIRouter, Depends

from service_kit.app_factory import (
    create_service_app,
    health_registry_for,
    internal_token_verifier,
    service_token_issuer,
)
from service_kit.errors import ForbiddenError, UnauthorizedError
from service_kit.internal_auth import (
    ANONYMOUS,
    GATEWAY,
    Caller,
    InternalCaller,
    InternalTokenIssuer,
    InternalTokenVerifier,
    VerifiedCaller,
    generate_key_pair,
    key_pair_variables,
    private_key_from_text,
    service_caller,
)
from service_kit.settings import (
    ConfigurationError,
    InternalTokenSettings,
    ServiceSettings,
    ServiceTokenIssuerSettings,
    load_settings,
)

GATEWAY_KEYS = generate_key_pair()
INVENTORY_KEYS = generate_key_pair()
BOOKING_COMMAND_KEYS = generate_key_pair()
QUERY_PROJECTION_KEYS = generate_key_pair()

GATEWAY_TOKENS = InternalTokenIssuer.from_text(GATEWAY_KEYS[0])
INVENTORY_TOKENS = InternalTokenIssuer.from_text(INVENTORY_KEYS[0], issuer="inventory")
QUERY_PROJECTION_TOKENS = InternalTokenIssuer.from_text(
    QUERY_PROJECTION_KEYS[0], issuer="query-projection"
)


def booking_command_verifier() -> InternalTokenVerifier:
    """booking-command as deployed: the gateway's key and inventory's."""
    return InternalTokenVerifier.from_text(
        GATEWAY_KEYS[1], "booking-command", trusted_services={"inventory": INVENTORY_KEYS[1]}
    )


def forged(private_key: str, **claims: Any) -> str:
    """A token signed with `private_key` carrying any claims the issuer class would refuse."""
    now = int(time.time())
    return jwt.encode(
        {"aud": "booking-command", "iat": now, "exp": now + 60, **claims},
        private_key_from_text(private_key),
        algorithm="EdDSA",
    )


@pytest.mark.parametrize(
    "caller", [Caller("user-1", "user"), Caller("admin-1", "admin"), ANONYMOUS, GATEWAY]
)
def test_the_gateways_tokens_verify_as_before(caller: Caller) -> None:
    token = GATEWAY_TOKENS.token("booking-command", caller)
    assert booking_command_verifier().verify(token) == caller
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "gateway"


def test_a_service_token_names_the_service_as_issuer_and_caller() -> None:
    token = INVENTORY_TOKENS.token("booking-command", service_caller("inventory"))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["sub"], claims["role"]) == ("inventory", "inventory", "service")
    caller = booking_command_verifier().verify(token)
    assert caller == Caller(id="inventory", role="service")
    assert caller.is_service("inventory")
    assert not caller.is_gateway
    assert not caller.is_service("booking-command")
    assert INVENTORY_TOKENS.service_authorization("booking-command") == f"Bearer {token}"


def test_a_service_token_verifies_only_with_its_own_issuers_key() -> None:
    verifier = booking_command_verifier()
    # Signed by the gateway's key, or by another service's, but naming inventory as issuer.
    for key in (GATEWAY_KEYS[0], QUERY_PROJECTION_KEYS[0]):
        token = forged(key, iss="inventory", sub="inventory", role="service")
        with pytest.raises(UnauthorizedError, match="Signature verification failed"):
            verifier.verify(token)
    # inventory's key naming the gateway as issuer.
    token = forged(INVENTORY_KEYS[0], iss="gateway", sub="user-1", role="admin")
    with pytest.raises(UnauthorizedError, match="Signature verification failed"):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("subject", "role"),
    [
        ("admin-1", "admin"),
        ("manager-1", "manager"),
        ("user-1", "user"),
        (None, "anonymous"),
        ("gateway", "service"),
        ("booking-command", "service"),
    ],
)
def test_a_service_key_cannot_claim_a_person_or_another_caller(
    subject: str | None, role: str
) -> None:
    claims = {"iss": "inventory", "role": role} | ({"sub": subject} if subject else {})
    with pytest.raises(UnauthorizedError, match="signs only for inventory itself"):
        booking_command_verifier().verify(forged(INVENTORY_KEYS[0], **claims))
    with pytest.raises(ValueError, match="signs only for inventory itself"):
        INVENTORY_TOKENS.token("booking-command", Caller(subject, role))  # type: ignore[arg-type]


def test_the_gateway_cannot_speak_for_a_service() -> None:
    token = GATEWAY_TOKENS.token("booking-command", service_caller("inventory"))
    with pytest.raises(UnauthorizedError, match="speaks for no service"):
        booking_command_verifier().verify(token)


def test_an_unknown_issuer_is_refused() -> None:
    token = QUERY_PROJECTION_TOKENS.service_authorization("booking-command").split()[1]
    with pytest.raises(UnauthorizedError, match="unknown issuer 'query-projection'"):
        booking_command_verifier().verify(token)
    with pytest.raises(UnauthorizedError, match="unknown issuer ''"):
        booking_command_verifier().verify(forged(INVENTORY_KEYS[0], sub="inventory"))


def test_a_service_token_for_another_audience_is_refused() -> None:
    token = INVENTORY_TOKENS.service_authorization("query-projection").split()[1]
    with pytest.raises(UnauthorizedError, match="Audience doesn't match"):
        booking_command_verifier().verify(token)


def test_the_gateway_is_not_a_trusted_service() -> None:
    with pytest.raises(ValueError, match="gateway"):
        InternalTokenVerifier.from_text(
            GATEWAY_KEYS[1], "inventory", trusted_services={"gateway": GATEWAY_KEYS[1]}
        )


class BookingCommandSettings(InternalTokenSettings):
    service_name: str = "booking-command"


people = APIRouter()


@people.get("/people")
async def for_people(caller: InternalCaller) -> dict[str, str | None]:
    return {"id": caller.id}


@people.get("/open")
async def open_to_any_verified_caller() -> dict[str, bool]:
    return {"ok": True}


async def inventory_only(caller: VerifiedCaller) -> Caller:
    if not caller.is_service("inventory"):
        raise ForbiddenError("inventory only")
    return caller


services = APIRouter()


@services.get("/for-inventory")
async def for_inventory(
    caller: Annotated[Caller, Depends(inventory_only)],
) -> dict[str, str | None]:
    return {"id": caller.id}


def routes_app() -> Any:
    settings = BookingCommandSettings(
        _env_file=None,  # type: ignore[call-arg]
        internal_token_public_key=GATEWAY_KEYS[1],
        trusted_service_keys=(
            f"inventory={INVENTORY_KEYS[1]},query-projection={QUERY_PROJECTION_KEYS[1]}"
        ),
    )
    return create_service_app(
        settings,
        title="routes",
        description="test",
        health=health_registry_for(settings),
        routers=[people],
        service_routers=[services],
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=routes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def bearer(authorization: Callable[[str], str]) -> dict[str, str]:
    return {"Authorization": authorization("booking-command")}


async def test_a_service_reaches_only_the_routes_that_name_it(client: httpx.AsyncClient) -> None:
    inventory = bearer(INVENTORY_TOKENS.service_authorization)
    query_projection = bearer(QUERY_PROJECTION_TOKENS.service_authorization)
    gateway = bearer(GATEWAY_TOKENS.service_authorization)
    admin = {
        "Authorization": GATEWAY_TOKENS.authorization("booking-command", Caller("a-1", "admin"))
    }

    answer = await client.get("/for-inventory", headers=inventory)
    assert (answer.status_code, answer.json()) == (200, {"id": "inventory"})
    for refused in (query_projection, gateway, admin):
        assert (await client.get("/for-inventory", headers=refused)).status_code == 403
    assert (await client.get("/for-inventory")).status_code == 401

    # Routes for people and the gateway refuse every service's own token, even unguarded ones.
    for path in ("/people", "/open"):
        assert (await client.get(path, headers=admin)).status_code == 200
        assert (await client.get(path, headers=gateway)).status_code == 200
        for service in (inventory, query_projection):
            refused = await client.get(path, headers=service)
            assert refused.status_code == 403, path
            assert "accepted only on routes made for it" in refused.json()["detail"]
        assert (await client.get(path)).status_code == 401


def test_service_routes_need_a_verifier() -> None:
    settings = ServiceSettings(service_name="web")
    with pytest.raises(ValueError, match="would be open"):
        create_service_app(
            settings,
            title="web",
            description="test",
            health=health_registry_for(settings),
            service_routers=[APIRouter()],
        )


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("ENVIRONMENT", "SERVICE_NAME", "SERVICE_TOKEN_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("INTERNAL_TOKEN_PUBLIC_KEY", GATEWAY_KEYS[1])
    return monkeypatch


def test_trusted_service_keys_become_the_verifiers_keys(environment: pytest.MonkeyPatch) -> None:
    environment.setenv(
        "TRUSTED_SERVICE_KEYS",
        f" inventory = {INVENTORY_KEYS[1]} ,, query-projection={QUERY_PROJECTION_KEYS[1]}",
    )
    settings = load_settings(BookingCommandSettings)
    assert settings.trusted_services == {
        "inventory": INVENTORY_KEYS[1],
        "query-projection": QUERY_PROJECTION_KEYS[1],
    }
    verifier = internal_token_verifier(settings)
    assert verifier is not None
    token = INVENTORY_TOKENS.service_authorization("booking-command").split()[1]
    assert verifier.verify(token).is_service("inventory")


def test_without_trusted_services_only_the_gateway_is_believed(
    environment: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(BookingCommandSettings)
    assert settings.trusted_services == {}
    verifier = internal_token_verifier(settings)
    assert verifier is not None
    with pytest.raises(UnauthorizedError, match="unknown issuer"):
        verifier.verify(INVENTORY_TOKENS.service_authorization("booking-command").split()[1])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"gateway={GATEWAY_KEYS[1]}", "unknown service 'gateway'"),
        (f"invntory={INVENTORY_KEYS[1]}", "unknown service 'invntory'"),
        (INVENTORY_KEYS[1], "is not service=public-key"),
        ("inventory=", "is not service=public-key"),
        ("inventory=not-a-key", "inventory: the public key"),
        ("inventory=" + "A" * 43, "inventory: the public key is not random"),
        (f"inventory={INVENTORY_KEYS[1]},inventory={BOOKING_COMMAND_KEYS[1]}", "named twice"),
        (f"inventory={GATEWAY_KEYS[1]}", "the gateway and inventory have the same public key"),
        (
            f"inventory={INVENTORY_KEYS[1]},query-projection={INVENTORY_KEYS[1]}",
            "inventory and query-projection have the same public key",
        ),
    ],
    ids=[
        "unknown-service",
        "misspelled-service",
        "key-without-service",
        "service-without-key",
        "not-a-key",
        "not-random",
        "named-twice",
        "gateway-key-reused",
        "one-key-for-two-services",
    ],
)
def test_bad_trusted_service_keys_stop_the_start(
    environment: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    environment.setenv("TRUSTED_SERVICE_KEYS", value)
    with pytest.raises(ConfigurationError) as stopped:
        load_settings(BookingCommandSettings)
    assert problem in str(stopped.value)


class InventorySettings(ServiceTokenIssuerSettings):
    service_name: str = "inventory"


def test_a_service_signs_with_its_own_key_as_itself(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SERVICE_TOKEN_PRIVATE_KEY", INVENTORY_KEYS[0])
    issuer = service_token_issuer(load_settings(InventorySettings))
    assert issuer is not None
    token = issuer.service_authorization("booking-command").split()[1]
    assert booking_command_verifier().verify(token) == service_caller("inventory")


@pytest.mark.parametrize("environment_name", ["development", "test"])
def test_outside_production_a_service_may_run_without_its_key(
    environment: pytest.MonkeyPatch, environment_name: str
) -> None:
    environment.setenv("ENVIRONMENT", environment_name)
    environment.setenv("SERVICE_TOKEN_PRIVATE_KEY", "")
    assert service_token_issuer(load_settings(InventorySettings)) is None


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (None, "SERVICE_TOKEN_PRIVATE_KEY is required in production: inventory calls"),
        ("", "SERVICE_TOKEN_PRIVATE_KEY is required in production"),
        ("changeme", "SERVICE_TOKEN_PRIVATE_KEY: .*private key must be 32 bytes"),
        ("A" * 43, "SERVICE_TOKEN_PRIVATE_KEY: .*not random"),
    ],
)
def test_production_refuses_a_missing_or_placeholder_service_key(
    environment: pytest.MonkeyPatch, key: str | None, problem: str
) -> None:
    environment.setenv("ENVIRONMENT", "production")
    if key is not None:
        environment.setenv("SERVICE_TOKEN_PRIVATE_KEY", key)
    with pytest.raises(ConfigurationError, match=problem):
        load_settings(InventorySettings)


def test_production_takes_a_real_service_key(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("ENVIRONMENT", "production")
    environment.setenv("SERVICE_TOKEN_PRIVATE_KEY", INVENTORY_KEYS[0])
    settings = load_settings(InventorySettings)
    assert INVENTORY_KEYS[0] not in repr(settings)


def test_only_an_internal_service_signs_its_own_tokens(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SERVICE_NAME", "gateway")
    environment.setenv("SERVICE_TOKEN_PRIVATE_KEY", INVENTORY_KEYS[0])
    with pytest.raises(ConfigurationError, match="signs tokens no service trusts"):
        load_settings(InventorySettings)


def test_key_pairs_are_generated_under_the_variables_they_are_handed_out_as() -> None:
    gateway = key_pair_variables()
    assert set(gateway) == {"INTERNAL_TOKEN_PRIVATE_KEY", "INTERNAL_TOKEN_PUBLIC_KEY"}
    booking_command = key_pair_variables("booking-command")
    private, public = (
        booking_command["BOOKING_COMMAND_SERVICE_TOKEN_PRIVATE_KEY"],
        booking_command["BOOKING_COMMAND_SERVICE_TOKEN_PUBLIC_KEY"],
    )
    token = InternalTokenIssuer.from_text(private, issuer="booking-command").token(
        "inventory", service_caller("booking-command")
    )
    verifier = InternalTokenVerifier.from_text(
        GATEWAY_KEYS[1], "inventory", trusted_services={"booking-command": public}
    )
    assert verifier.verify(token).is_service("booking-command")
    with pytest.raises(ValueError, match="unknown service"):
        key_pair_variables("gateway")
