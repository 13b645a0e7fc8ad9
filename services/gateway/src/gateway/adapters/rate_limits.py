"""Moving-window rate limits through `limits`, stored in Redis so every replica counts."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


def rules_from_settings(settings: GatewaySettings) -> dict[str, RateLimitItem]:
    return {
        "default": parse(settings.rate_limit_default),
        "login": parse(settings.rate_limit_login),
        "register": parse(settings.rate_limit_register),
        "booking": parse(settings.rate_limit_booking),
    }


def redis_rate_limit_storage(settings: GatewaySettings) -> Storage:
    return RedisStorage(
        "async+" + str(settings.redis_url),
        implementation="redispy",
        key_prefix=f"{settings.redis_key_prefix}gateway:rate-limit",
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
    )


def memory_rate_limit_storage() -> Storage:
    return MemoryStorage()


class RateLimiter:
    def __init__(self, storage: Storage, rules: dict[str, RateLimitItem], *, enabled: bool = True):
        self._limiter = MovingWindowRateLimiter(storage)
        self._storage = storage
        self._rules = rules
        self.enabled = enabled

    async def hit(self, group: str, identity: str) -> RateLimitDecision | None:
        """Count one request of `identity` in `group`; None when limits are off or unknown."""
        rule = self._rules.get(group)
        if not self.enabled or rule is None:
            return None
        try:
            allowed = await self._limiter.hit(rule, group, identity)
            stats = await self._limiter.get_window_stats(rule, group, identity)
        except Exception:
            # Losing rate limits for a moment beats refusing every request.
            logger.warning(
                "rate limit storage unavailable; letting the request through", exc_info=True
            )
            return None
        return RateLimitDecision(
            allowed=allowed, limit=rule.amount, remaining=stats.remaining, reset_at=stats.reset_time
        )

    async def reset(self) -> None:
        await self._storage.reset()
