"""Simulated time: every delay of the stand-in is divided by `speed`.

Times reported on the wire (Uniqueid epochs, HoldTime, TalkTime, LastCall...) are in
simulated seconds, so a 20x test still sees `RingTime: 8000` for an 8 s member timeout.
"""

from __future__ import annotations

import asyncio
import time


class SimClock:
    def __init__(self, speed: float = 1.0, epoch: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._epoch0 = time.time() if epoch is None else epoch
        self._mono0 = time.monotonic()

    def now(self) -> float:
        """Simulated wall-clock time (epoch seconds)."""
        return self._epoch0 + (time.monotonic() - self._mono0) * self.speed

    def real_seconds(self, sim_seconds: float) -> float:
        return max(sim_seconds, 0.0) / self.speed

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.real_seconds(sim_seconds))
