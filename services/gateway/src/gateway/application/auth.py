"""Accounts and tokens: register, log in, log out, change passwords, grant roles, keep the
initial admin, and turn a token into the caller behind it.

Only failures are limited, so a crowd behind one address (a campus, a carrier's NAT) signs
up and logs in at an on-sale: failed logins per address and per account (backoff), and
sign-ups that name an email with an account per address (the answer that tells whoever
asks that the email is registered)."""

from __future__ import annotations

import logging
import uuid

from gateway.application.audit import (
    LOGIN_FAILED,
    LOGIN_SUCCEEDED,
    LOGIN_THROTTLED,
    LOGOUT,
    PASSWORD_CHANGE_FAILED,
    PASSWORD_CHANGED,
    ROLE_CHANGED,
    SIGN_UP_THROTTLED,
    audit,
)
from gateway.application.ports import (
    AddressFailureLimit,
    IssuedToken,
    LoginThrottle,
    PasswordHasher,
    RevokedTokens,
    TokenCodec,
    UserRepository,
)
from gateway.application.recent_users import RecentUsers
from gateway.domain.passwords import password_problems
from gateway.domain.users import Caller, User, normalise_email
from service_kit.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)
from ticketing_contracts.internal_http import Role

logger = logging.getLogger(__name__)

INVALID_CREDENTIALS = "Incorrect email or password"
TOKEN_REVOKED = "The access token is no longer valid; log in again"  # noqa: S105


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        hasher: PasswordHasher,
        tokens: TokenCodec,
        throttle: LoginThrottle,
        revoked: RevokedTokens,
        *,
        failed_logins_per_address: AddressFailureLimit,
        taken_emails_per_address: AddressFailureLimit,
        user_cache_seconds: float = 1.0,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._tokens = tokens
        self._throttle = throttle
        self._revoked = revoked
        self._failed_logins = failed_logins_per_address
        self._taken_emails = taken_emails_per_address
        self._recent = RecentUsers(users.by_id, user_cache_seconds)
        # Verified against when the email is unknown, so both answers take as long.
        self._decoy_hash: str | None = None

    async def register(
        self, *, email: str, password: str, name: str, client_address: str = ""
    ) -> User:
        """The new account; 429 while the address backs off after naming taken emails."""
        email = normalise_email(email)
        # Before anything else: even a 201 tells the asker that the email had no account.
        if wait := await self._taken_emails.retry_after(client_address):
            audit(SIGN_UP_THROTTLED, email=email, client_address=client_address)
            raise RateLimitedError(
                "Too many sign-ups with emails that already have an account from your "
                "address; try again later",
                retry_after_seconds=wait,
                error_type="too_many_failed_sign_ups",
            )
        self._check_strength(password, email)
        if await self._users.by_email(email) is not None:
            await self._taken_emails.record_failure(client_address)
            raise ConflictError(
                "An account with this email already exists", error_type="email_already_registered"
            )
        user = User.new(
            email=email, name=name, role="user", password_hash=await self._hasher.hash(password)
        )
        await self._users.add(user)
        return user

    async def authenticate(self, *, email: str, password: str, client_address: str = "") -> User:
        """The account, or 401; 429 while the address or the account backs off after
        failed logins (checked before any password is hashed)."""
        email = normalise_email(email)
        if wait := await self._failed_logins.retry_after(client_address):
            audit(LOGIN_THROTTLED, email=email, client_address=client_address, limit="address")
            raise RateLimitedError(
                "Too many failed logins from your address; try again later",
                retry_after_seconds=wait,
                error_type="too_many_failed_logins",
            )
        if wait := await self._throttle.retry_after(email):
            audit(LOGIN_THROTTLED, email=email, client_address=client_address, limit="account")
            raise RateLimitedError(
                "Too many failed logins for this account; try again later",
                retry_after_seconds=wait,
            )
        user = await self._users.by_email(email)
        matches = await self._password_matches(user, password)  # unknown emails hash too
        if user is None or not matches:
            await self._throttle.record_failure(email)
            await self._failed_logins.record_failure(client_address)
            audit(
                LOGIN_FAILED,
                email=email,
                user_id=None if user is None else str(user.id),
                client_address=client_address,
            )
            raise UnauthorizedError(INVALID_CREDENTIALS, error_type="invalid_credentials")
        await self._throttle.reset(email)
        audit(LOGIN_SUCCEEDED, user_id=str(user.id), email=email, client_address=client_address)
        return user

    async def issue_token(
        self, *, email: str, password: str, client_address: str = ""
    ) -> IssuedToken:
        user = await self.authenticate(
            email=email, password=password, client_address=client_address
        )
        return self._tokens.issue(user)

    async def caller(self, token: str) -> Caller:
        """Who the token proves, with the account's current role; 401 once it is revoked."""
        claims = self._tokens.decode(token)
        try:
            user_id = uuid.UUID(claims.user_id)
        except ValueError:
            raise UnauthorizedError(
                "The access token is invalid", error_type="invalid_token"
            ) from None
        user = await self._recent.get(user_id)
        if (
            user is None
            or user.token_version != claims.token_version
            or await self._revoked.is_revoked(claims.token_id)
        ):
            raise UnauthorizedError(TOKEN_REVOKED, error_type="token_revoked")
        return Caller(
            user_id=claims.user_id,
            role=user.role,
            token_id=claims.token_id,
            token_expires_at=claims.expires_at,
        )

    async def logout(self, caller: Caller, *, client_address: str = "") -> None:
        await self._revoked.revoke(caller.token_id, caller.token_expires_at)
        audit(LOGOUT, user_id=caller.user_id, client_address=client_address)

    async def change_password(
        self, caller: Caller, *, current_password: str, new_password: str, client_address: str = ""
    ) -> IssuedToken:
        """Every token issued before stops working; the answer is a fresh one."""
        user = await self.user(uuid.UUID(caller.user_id))
        if wait := await self._throttle.retry_after(user.email):
            raise RateLimitedError(
                "Too many failed attempts for this account; try again later",
                retry_after_seconds=wait,
            )
        if not await self._password_matches(user, current_password):
            await self._throttle.record_failure(user.email)
            audit(PASSWORD_CHANGE_FAILED, user_id=caller.user_id, client_address=client_address)
            raise ForbiddenError(
                "The current password is not correct", error_type="invalid_current_password"
            )
        self._check_strength(new_password, user.email)
        changed = await self._users.replace_password(user.id, await self._hasher.hash(new_password))
        if changed is None:
            raise UnauthorizedError(TOKEN_REVOKED, error_type="token_revoked")
        self._recent.forget(user.id)
        await self._throttle.reset(user.email)
        audit(PASSWORD_CHANGED, user_id=caller.user_id, client_address=client_address)
        return self._tokens.issue(changed)

    async def user(self, user_id: uuid.UUID) -> User:
        user = await self._users.by_id(user_id)
        if user is None:
            raise NotFoundError(f"User {user_id} not found")
        return user

    async def grant_role(self, user_id: uuid.UUID, role: Role, *, granted_by: Caller) -> User:
        """Takes effect on the user's next request (at most a second later on other replicas)."""
        before = await self.user(user_id)
        user = await self._users.set_role(user_id, role)
        if user is None:
            raise NotFoundError(f"User {user_id} not found")
        self._recent.forget(user_id)
        audit(
            ROLE_CHANGED,
            user_id=str(user_id),
            actor_id=granted_by.user_id,
            previous_role=before.role,
            role=role,
        )
        return user

    async def ensure_admin(self, *, email: str, password: str) -> User:
        """Create the initial admin, or bring an existing one to this password and role."""
        email = normalise_email(email)
        if password_problems(password, email):
            logger.warning("the initial admin password is weak; set a stronger ADMIN_PASSWORD")
        user = await self._users.by_email(email)
        if user is None:
            user = User.new(
                email=email,
                name="Administrator",
                role="admin",
                password_hash=await self._hasher.hash(password),
            )
            try:
                await self._users.add(user)
            except ConflictError:  # another replica created it a moment ago
                return await self.ensure_admin(email=email, password=password)
            logger.info("created the initial admin account", extra={"email": email})
            return user
        matches, _ = await self._hasher.verify(password, user.password_hash)
        if not matches:
            user = (
                await self._users.replace_password(user.id, await self._hasher.hash(password))
                or user
            )
            audit(PASSWORD_CHANGED, user_id=str(user.id), actor_id="ADMIN_PASSWORD setting")
        if user.role != "admin":
            previous_role = user.role
            user = await self._users.set_role(user.id, "admin") or user
            audit(
                ROLE_CHANGED,
                user_id=str(user.id),
                actor_id="ADMIN_EMAIL setting",
                previous_role=previous_role,
                role="admin",
            )
        return user

    async def _password_matches(self, user: User | None, password: str) -> bool:
        if user is None:
            if self._decoy_hash is None:
                self._decoy_hash = await self._hasher.hash(uuid.uuid4().hex)
            await self._hasher.verify(password, self._decoy_hash)
            return False
        matches, rehashed = await self._hasher.verify(password, user.password_hash)
        if matches and rehashed is not None:
            # Stored with other (e.g. costlier) parameters: hashes follow the settings.
            await self._users.set_password_hash(user.id, rehashed)
        return matches

    @staticmethod
    def _check_strength(password: str, email: str) -> None:
        if problems := password_problems(password, email):
            raise InvalidInputError("Password " + "; ".join(problems), error_type="weak_password")
