"""Register accounts, issue tokens, keep the initial admin, grant roles."""

from __future__ import annotations

import asyncio
import logging
import uuid

from gateway.application.ports import IssuedToken, PasswordHasher, TokenCodec, UserRepository
from gateway.domain.passwords import password_problems
from gateway.domain.users import User, normalise_email
from service_kit.errors import ConflictError, InvalidInputError, NotFoundError, UnauthorizedError
from ticketing_contracts.internal_http import Role

logger = logging.getLogger(__name__)

INVALID_CREDENTIALS = "Incorrect email or password"


class AuthService:
    def __init__(self, users: UserRepository, hasher: PasswordHasher, tokens: TokenCodec) -> None:
        self._users = users
        self._hasher = hasher
        self._tokens = tokens
        # Verified against when the email is unknown, so both answers take as long.
        self._decoy_hash: str | None = None

    async def _hash(self, password: str) -> str:
        # Argon2 is deliberately slow; keep it off the event loop.
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password: str, password_hash: str) -> bool:
        return await asyncio.to_thread(self._hasher.verify, password, password_hash)

    async def register(self, *, email: str, password: str, name: str) -> User:
        email = normalise_email(email)
        if problems := password_problems(password, email):
            raise InvalidInputError("Password " + "; ".join(problems), error_type="weak_password")
        if await self._users.by_email(email) is not None:
            raise ConflictError(
                "An account with this email already exists", error_type="email_already_registered"
            )
        user = User.new(
            email=email, name=name, role="user", password_hash=await self._hash(password)
        )
        await self._users.add(user)
        return user

    async def authenticate(self, *, email: str, password: str) -> User:
        user = await self._users.by_email(normalise_email(email))
        if user is None:
            if self._decoy_hash is None:
                self._decoy_hash = await self._hash(uuid.uuid4().hex)
            await self._verify(password, self._decoy_hash)
            raise UnauthorizedError(INVALID_CREDENTIALS, error_type="invalid_credentials")
        if not await self._verify(password, user.password_hash):
            raise UnauthorizedError(INVALID_CREDENTIALS, error_type="invalid_credentials")
        return user

    async def issue_token(self, *, email: str, password: str) -> IssuedToken:
        return self._tokens.issue(await self.authenticate(email=email, password=password))

    async def user(self, user_id: uuid.UUID) -> User:
        user = await self._users.by_id(user_id)
        if user is None:
            raise NotFoundError(f"User {user_id} not found")
        return user

    async def grant_role(self, user_id: uuid.UUID, role: Role) -> User:
        user = await self._users.set_role(user_id, role)
        if user is None:
            raise NotFoundError(f"User {user_id} not found")
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
                password_hash=await self._hash(password),
            )
            try:
                await self._users.add(user)
            except ConflictError:  # another replica created it a moment ago
                return await self.ensure_admin(email=email, password=password)
            logger.info("created the initial admin account", extra={"email": email})
            return user
        if not await self._verify(password, user.password_hash):
            await self._users.set_password_hash(user.id, await self._hash(password))
        if user.role != "admin":
            user = await self._users.set_role(user.id, "admin") or user
        return user
