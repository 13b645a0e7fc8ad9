"""Logged-out tokens: kept in the gateway's PostgreSQL, checked against a copy in the process.

A logout is written to PostgreSQL before it is answered, so it survives Redis being away
or coming back empty, and a gateway restart. Every request checks the token against this
process's copy, which a background round refreshes every `refresh_seconds` with what any
replica revoked since the last read: no Redis and no PostgreSQL round trip per request. The
replica that logged the token out refuses it at once; the others within `refresh_seconds`
(as a role change already takes up to a second to reach them). When the copy has not been
refreshed for `max_stale_seconds`, PostgreSQL is away: requests fail closed (503) rather
than accept a token that may have been revoked meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gateway.application.ports import RevokedTokenStore
from service_kit.background import WokenRounds
from service_kit.errors import DependencyUnavailableError

logger = logging.getLogger(__name__)

# A logout committed while a refresh was reading is found by the next one: each read starts
# this long before the previous read started, by PostgreSQL's clock.
REREAD_SECONDS = 10.0


class RevocationList:
    def __init__(
        self,
        store: RevokedTokenStore,
        *,
        leeway_seconds: int,
        refresh_seconds: float,
        max_stale_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        # Tokens are accepted this long past `exp`, so they stay listed this long too.
        self._leeway = leeway_seconds
        self._max_stale = max_stale_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        # token id -> when it may be forgotten (epoch seconds)
        self._revoked: dict[str, float] = {}
        self._read_from: float | None = None
        self._fresh_at: float | None = None
        self._rounds = WokenRounds("revoked tokens refresh", self.refresh, refresh_seconds)

    async def start(self) -> None:
        """Reads the whole list once (requests wait for it), then refreshes in the background."""
        await self.refresh()
        self._rounds.task.start()

    async def stop(self) -> None:
        await self._rounds.task.stop()

    async def revoke(self, token_id: str, expires_at: int) -> None:
        forget_after = expires_at + self._leeway
        try:
            await self._store.add(token_id, forget_after)
        except Exception as error:
            raise DependencyUnavailableError("Logging out is unavailable; try again") from error
        self._revoked[token_id] = forget_after

    async def is_revoked(self, token_id: str) -> bool:
        if self._fresh_at is None or self._clock() - self._fresh_at > self._max_stale:
            # Fails closed: a logged-out token must not work again while nobody can tell.
            raise DependencyUnavailableError("Signing in is unavailable; try again")
        return token_id in self._revoked

    async def refresh(self) -> bool:
        """One round: adopts what was revoked since the last read, forgets expired ids."""
        started = self._clock()
        since = None if self._read_from is None else self._read_from - REREAD_SECONDS
        revoked, read_at = await self._store.revoked_since(since)
        self._revoked.update(revoked)
        self._read_from = read_at
        self._fresh_at = started
        now = self._wall_clock()
        expired = [token_id for token_id, until in self._revoked.items() if until < now]
        for token_id in expired:
            del self._revoked[token_id]
        if expired:
            await self._store.forget_expired()
        return False
