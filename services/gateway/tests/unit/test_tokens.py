import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import replace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.adapters.tokens import JwtTokens
from gateway.domain.users import User
from service_kit.errors import UnauthorizedError

SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"


def hs256(ttl_seconds: int = 1800) -> JwtTokens:
    return JwtTokens(
        algorithm="HS256",
        signing_key=SECRET,
        verification_key=SECRET,
        ttl_seconds=ttl_seconds,
        leeway_seconds=0,
        issuer="ticketing-gateway",
    )


def a_user(role: str = "user") -> User:
    return User.new(email="zoe@example.com", name="Zoë", role=role, password_hash="x")  # type: ignore[arg-type]


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    values: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "role": "user",
        "iss": "ticketing-gateway",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "ver": 0,
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_proves_the_user_its_id_role_and_the_password_version() -> None:
    user = replace(a_user("manager"), token_version=3)
    issued = hs256().issue(user)
    decoded = jwt.decode(
        issued.access_token, SECRET, algorithms=["HS256"], issuer="ticketing-gateway"
    )
    assert set(decoded) >= {"sub", "role", "exp", "iat", "jti", "ver"}
    assert decoded["role"] == "manager"
    proven = hs256().decode(issued.access_token)
    assert (proven.user_id, proven.token_version, proven.role) == (str(user.id), 3, "manager")
    assert proven.token_id == decoded["jti"]
    assert proven.expires_at == decoded["exp"]
    assert issued.expires_in == 1800


def test_rejects_a_token_without_a_password_version() -> None:
    token = jwt.encode(claims(ver=None), SECRET, algorithm="HS256")
    with pytest.raises(UnauthorizedError):
        hs256().decode(token)


def test_rejects_alg_none() -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims(role='admin'))}."
    with pytest.raises(UnauthorizedError):
        hs256().decode(token)


def test_rejects_a_wrong_signature() -> None:
    token = jwt.encode(claims(), "another-secret-of-sufficient-length-000", algorithm="HS256")
    with pytest.raises(UnauthorizedError):
        hs256().decode(token)


def test_rejects_an_expired_token() -> None:
    past = int(time.time()) - 3600
    token = jwt.encode(claims(iat=past - 60, exp=past), SECRET, algorithm="HS256")
    with pytest.raises(UnauthorizedError) as error:
        hs256().decode(token)
    assert error.value.error_type == "token_expired"


def test_rejects_a_token_whose_role_was_tampered_with() -> None:
    token = hs256().issue(a_user("user")).access_token
    header, _, signature = token.split(".")
    payload = jwt.decode(token, options={"verify_signature": False})
    forged = f"{header}.{_b64({**payload, 'role': 'admin'})}.{signature}"
    with pytest.raises(UnauthorizedError):
        hs256().decode(forged)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "jti", "role"])
def test_rejects_a_token_without_a_required_claim(missing: str) -> None:
    token = jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256")
    with pytest.raises(UnauthorizedError):
        hs256().decode(token)


def test_rejects_an_unknown_role() -> None:
    token = jwt.encode(claims(role="superuser"), SECRET, algorithm="HS256")
    with pytest.raises(UnauthorizedError):
        hs256().decode(token)


def test_rs256_signs_with_the_private_key_and_refuses_hs256_made_with_the_public_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    tokens = JwtTokens(
        algorithm="RS256",
        signing_key=private_pem,
        verification_key=public_pem,
        ttl_seconds=60,
        leeway_seconds=0,
        issuer="ticketing-gateway",
    )
    user = a_user()
    assert tokens.decode(tokens.issue(user).access_token).user_id == str(user.id)
    header = _b64({"alg": "HS256", "typ": "JWT"})
    body = _b64(claims(role="admin"))
    signature = hmac.new(public_pem.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    with pytest.raises(UnauthorizedError):
        tokens.decode(forged)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_token_verified_once_is_not_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = hs256()
    token = tokens.issue(a_user()).access_token
    verified = []
    verify = jwt.decode

    def counting(*args: object, **kwargs: object) -> object:
        verified.append(args[0])
        return verify(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)

    assert tokens.decode(token) == tokens.decode(token) == tokens.decode(token)
    assert verified == [token]


def test_a_remembered_token_expires_when_a_fresh_check_would_refuse_it() -> None:
    clock = Clock()
    tokens = JwtTokens(
        algorithm="HS256",
        signing_key=SECRET,
        verification_key=SECRET,
        ttl_seconds=1800,
        leeway_seconds=10,
        issuer="ticketing-gateway",
        clock=clock,
    )
    token = tokens.issue(a_user()).access_token
    expires_at = tokens.decode(token).expires_at

    clock.now = expires_at + 10 - 0.001  # within the leeway
    assert tokens.decode(token).expires_at == expires_at
    clock.now = expires_at + 10
    with pytest.raises(UnauthorizedError) as error:
        tokens.decode(token)
    assert (error.value.detail, error.value.error_type) == (
        "The access token has expired",
        "token_expired",
    )


def test_remembering_a_token_vouches_for_no_other_text() -> None:
    tokens = hs256()
    token = tokens.issue(a_user("user")).access_token
    assert tokens.decode(token).role == "user"
    header, _, signature = token.split(".")
    payload = jwt.decode(token, options={"verify_signature": False})
    forged = f"{header}.{_b64({**payload, 'role': 'admin'})}.{signature}"

    with pytest.raises(UnauthorizedError):
        tokens.decode(forged)
    with pytest.raises(UnauthorizedError):
        tokens.decode(forged)
    assert tokens.decode(token).role == "user"


def test_when_full_only_the_tokens_verified_longest_ago_are_verified_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("gateway.adapters.tokens.MAX_REMEMBERED", 100)
    tokens = hs256()
    crowd = [tokens.issue(a_user()).access_token for _ in range(101)]
    for token in crowd:
        tokens.decode(token)
    verified = []
    verify = jwt.decode

    def counting(*args: object, **kwargs: object) -> object:
        verified.append(args[0])
        return verify(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)

    for token in crowd[10:]:
        tokens.decode(token)
    assert verified == []
    tokens.decode(crowd[0])
    assert verified == [crowd[0]]
