"""Thumbnails wait for a calm moment: made once the process's event loop has kept time for a while.

Why: when a burst of uploads and sends fills the cores, the thumbnails are about
40 % of the servers' CPU (bench/load.py, docs/cluster.md "ninth look"), and a
thread at a lower priority still takes cores the requests want. A message's
thumbnail may come a little later; the message should not. So a thumbnail is
made when the loop has run its ticks on time for CALM seconds (or AT_MOST
seconds after it was asked for, whichever comes first). A server that is not
busy makes it at once: the loop was on time before it was asked.
"""

from __future__ import annotations

import asyncio
import math

TICK = 0.05          # s between the loop's time checks (20 a second: microseconds of CPU each)
LATE = 0.1           # s a tick may run late and still count as on time (a burst's turns: 0.25-0.5 s, measured)
CALM = 1.0           # s of ticks on time before thumbnails go (0.3 s let them into lulls of a burst: measured)
AT_MOST = 10.0       # s a thumbnail waits at most, so they come under a load that never ends (5 s was worse:
                     # the held ones then landed in the second half of the bench's 6 s burst)


class Lateness:
    """When the loop last ran late, from each tick's delay; pure, so the policy is tested without a loop."""

    def __init__(self, late: float = LATE, calm: float = CALM) -> None:
        self.late, self.calm_for = late, calm
        self.late_at = -math.inf

    def ticked(self, now: float, delay: float) -> None:
        if delay > self.late:
            self.late_at = now

    def calm(self, now: float) -> bool:
        return now - self.late_at >= self.calm_for


class LoopCalm:
    """Ticks on the running loop and lets waiters through when it has been on time for `Lateness.calm_for`."""

    def __init__(self, lateness: Lateness | None = None, tick: float = TICK, at_most: float = AT_MOST) -> None:
        self.lateness = lateness or Lateness()
        self.tick, self.at_most = tick, at_most
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._timer: asyncio.TimerHandle | None = None

    async def wait(self, key: str) -> None:
        """Return when the loop is calm, `let_through(key)` is called, or `at_most` seconds have passed."""
        loop = asyncio.get_running_loop()
        self._start(loop)
        if self.lateness.calm(loop.time()):
            return
        waiter = self._waiters.setdefault(key, loop.create_future())
        try:
            await asyncio.wait([waiter], timeout=self.at_most)
        finally:
            if self._waiters.get(key) is waiter:
                del self._waiters[key]

    def let_through(self, key: str) -> None:
        """Someone waits for this one (a bridged message): it goes now, calm or not."""
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def waiting(self) -> list[str]:
        return list(self._waiters)

    def close(self) -> None:
        """No more ticks; whoever still waits is the caller's to cancel (or to let through)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        """The ticks begin with the first thumbnail (until then there is nothing to wait for)."""
        if self._timer is None:
            now = loop.time()
            self._timer = loop.call_at(now + self.tick, self._ticked, loop, now + self.tick)

    def _ticked(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        now = loop.time()
        self.lateness.ticked(now, now - due)
        if self._waiters and self.lateness.calm(now):
            for key in list(self._waiters):
                self.let_through(key)
        self._timer = loop.call_at(now + self.tick, self._ticked, loop, now + self.tick)
