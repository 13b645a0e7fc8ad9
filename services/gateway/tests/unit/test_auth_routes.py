import time
import uuid

import jwt


async def test_registers_a_user_with_a_lower_cased_email(gateway) -> None:
    response = await gateway.client.post(
        "/api/v1/auth/register",
        json={"email": "Zoe.Smith@Example.com", "password": gateway.PASSWORD, "name": "Zoë Smith"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "zoe.smith@example.com"
    assert body["role"] == "user"
    assert "password" not in response.text
    assert "hash" not in response.text


async def test_refuses_a_second_account_with_the_same_email(gateway) -> None:
    await gateway.register("dup@example.com")
    response = await gateway.client.post(
        "/api/v1/auth/register",
        json={"email": "DUP@example.com", "password": gateway.PASSWORD, "name": "Dup"},
    )
    assert response.status_code == 409
    assert response.json()["error_type"] == "email_already_registered"


async def test_refuses_a_weak_password_saying_what_is_wrong(gateway) -> None:
    response = await gateway.client.post(
        "/api/v1/auth/register",
        json={"email": "weak@example.com", "password": "short", "name": "Weak"},
    )
    assert response.status_code == 422
    assert "at least 10 characters" in response.json()["detail"]


async def test_refuses_an_invalid_email_and_name(gateway) -> None:
    response = await gateway.client.post(
        "/api/v1/auth/register",
        json={"email": "not-an-email", "password": gateway.PASSWORD, "name": "R2-D2"},
    )
    assert response.status_code == 422
    fields = {problem["field"] for problem in response.json()["errors"]}
    assert {"body.email", "body.name"} <= fields


async def test_logs_in_with_the_oauth2_password_flow(gateway) -> None:
    user = await gateway.register("login@example.com")
    response = await gateway.client.post(
        "/api/v1/auth/token", data={"username": "LOGIN@example.com", "password": gateway.PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == user["id"]
    assert claims["role"] == "user"
    assert claims["exp"] - claims["iat"] == gateway.settings.jwt_ttl_seconds
    assert claims["jti"]


async def test_refuses_a_wrong_password_and_an_unknown_email_alike(gateway) -> None:
    await gateway.register("known@example.com")
    wrong = await gateway.client.post(
        "/api/v1/auth/token", data={"username": "known@example.com", "password": "Nope-Nope-42"}
    )
    unknown = await gateway.client.post(
        "/api/v1/auth/token", data={"username": "ghost@example.com", "password": "Nope-Nope-42"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["WWW-Authenticate"] == "Bearer"


async def test_the_initial_admin_from_settings_can_log_in(gateway) -> None:
    token = await gateway.token(gateway.ADMIN_EMAIL, gateway.ADMIN_PASSWORD)
    me = await gateway.client.get("/api/v1/users/me", headers=gateway.bearer(token))
    assert me.status_code == 200
    assert me.json()["role"] == "admin"


async def test_me_needs_a_token(gateway) -> None:
    response = await gateway.client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.json()["error_type"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_garbage_token_is_refused_even_on_public_routes(gateway) -> None:
    response = await gateway.client.get(
        "/api/v1/venues", headers={"Authorization": "Bearer not.a.token"}
    )
    assert response.status_code == 401


async def test_an_expired_token_is_refused(gateway) -> None:
    past = int(time.time()) - 3600
    token = jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "role": "admin",
            "iss": gateway.settings.jwt_issuer,
            "iat": past - 60,
            "exp": past,
            "jti": "x",
            "ver": 0,
        },
        gateway.settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    response = await gateway.client.get("/api/v1/users/me", headers=gateway.bearer(token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_an_admin_grants_a_role_and_the_next_token_carries_it(gateway, admin_headers) -> None:
    user = await gateway.register("promote@example.com")
    response = await gateway.client.put(
        f"/api/v1/users/{user['id']}/role", json={"role": "manager"}, headers=admin_headers
    )
    assert response.status_code == 200
    assert response.json()["role"] == "manager"
    token = await gateway.token("promote@example.com")
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "manager"


async def test_only_admins_grant_roles(gateway, manager_headers) -> None:
    user = await gateway.register("target@example.com")
    response = await gateway.client.put(
        f"/api/v1/users/{user['id']}/role", json={"role": "admin"}, headers=manager_headers
    )
    assert response.status_code == 403
    assert response.json()["error_type"] == "forbidden"


async def test_granting_a_role_to_an_unknown_user_is_404(gateway, admin_headers) -> None:
    response = await gateway.client.put(
        f"/api/v1/users/{uuid.uuid4()}/role", json={"role": "manager"}, headers=admin_headers
    )
    assert response.status_code == 404


async def test_granting_an_unknown_role_is_422(gateway, admin_headers) -> None:
    user = await gateway.register("odd@example.com")
    response = await gateway.client.put(
        f"/api/v1/users/{user['id']}/role", json={"role": "root"}, headers=admin_headers
    )
    assert response.status_code == 422
