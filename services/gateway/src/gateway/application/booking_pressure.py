"""What the booking path tells the waiting rooms' admission: slow down."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class BookingPressure:
    """Whether the booking path is struggling, as this gateway sees it: a forwarded booking
    answered 503 (booking-command's breaker open, booking-command or inventory unable to
    answer), or the p99 of forwarded bookings' time over `p99_limit_seconds`, both since the
    last question (the p99 over the last `window_seconds`, from `MIN_SAMPLES` on)."""

    MIN_SAMPLES = 20
    MAX_SAMPLES = 10_000

    def __init__(
        self,
        p99_limit_seconds: float,
        window_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = p99_limit_seconds
        self._window = window_seconds
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque(maxlen=self.MAX_SAMPLES)
        self._unavailable = False

    def record(self, seconds: float, *, unavailable: bool) -> None:
        self._samples.append((self._clock(), seconds))
        self._unavailable = self._unavailable or unavailable

    def p99_seconds(self) -> float | None:
        horizon = self._clock() - self._window
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()
        if len(self._samples) < self.MIN_SAMPLES:
            return None
        ordered = sorted(seconds for _, seconds in self._samples)
        return ordered[math.ceil(0.99 * len(ordered)) - 1]

    def under_pressure(self) -> bool:
        unavailable, self._unavailable = self._unavailable, False
        p99 = self.p99_seconds()
        return unavailable or (p99 is not None and p99 > self._limit)
