"""The one retry policy of the page: how often to try again on its own, and how long to wait.

Start-up, the send queue and uploads all retry through :data:`POLICY`, so the
page behaves the same wherever a passing fault hits it: 1, 2, 4, 8 s ... up to
30 s, a server's ``Retry-After`` honoured when it is reasonable, and after
``retries`` automatic attempts the user is told and decides.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3  # automatic retries before the problem is shown with a Retry button
    base: float = 1.0  # seconds before the first retry
    cap: float = 30.0  # no wait between two automatic tries is longer
    max_retry_after: float = 120.0  # a server asking for longer is reported, not waited for

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds before automatic retry number ``attempt`` (1-based).

        The server's ``Retry-After`` wins when given; one longer than
        ``max_retry_after`` gives None: better to say so than to hang.
        """
        if retry_after is not None:
            return max(0.0, retry_after) if retry_after <= self.max_retry_after else None
        return min(self.cap, self.base * 2 ** min(max(attempt - 1, 0), 32))

    def allows(self, attempt: int) -> bool:
        """Whether automatic retry number ``attempt`` (1-based) may happen."""
        return attempt <= self.retries

    @property
    def longest_wait(self) -> float:
        """No :meth:`delay` is ever longer: the bound the tests hold the machines to."""
        return max(self.cap, self.max_retry_after)


POLICY = RetryPolicy()


def backoff(attempt: int) -> float:
    """The page's wait before automatic retry number ``attempt`` (1, 2, 4 ... 30 s)."""
    delay = POLICY.delay(attempt)
    assert delay is not None
    return delay
