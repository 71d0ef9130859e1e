"""Open event streams per identity: the `StreamSlots` Protocol and its in-process count.

Why a cap: each stream holds a connection for as long as the token lives, so
one identity may hold at most `[server] max_streams_per_identity` of them
(429 + Retry-After beyond). The ticket request says so first, where the page
can read the status (EventSource cannot). Several processes share the count
through Redis (server.live.redis_state.RedisSlots) with the same methods.
"""

from __future__ import annotations

from typing import Protocol

from server.auth.principals import Principal
from server.http.api_error import ApiError

RETRY_AFTER = "10"


def too_many_streams(principal: Principal, limit: int) -> ApiError:
    return ApiError(429, "too_many_streams", f"{principal.name} already has {limit} open event streams.",
                    "Close another tab or window of this conversation, then try again.",
                    headers={"Retry-After": RETRY_AFTER})


class StreamSlots(Protocol):
    async def check(self, principal: Principal) -> None:
        """429 when this identity already holds its streams."""

    async def take(self, principal: Principal) -> object:
        """One more stream for this identity (a handle for `give_back`), or 429."""

    async def give_back(self, handle: object) -> None: ...


class LocalSlots:
    """identity (sub) -> open streams, in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: dict[str, int] = {}

    async def check(self, principal: Principal) -> None:
        if self.open.get(principal.sub, 0) >= self.limit:
            raise too_many_streams(principal, self.limit)

    async def take(self, principal: Principal) -> object:
        await self.check(principal)
        self.open[principal.sub] = self.open.get(principal.sub, 0) + 1
        return principal.sub

    async def give_back(self, handle: object) -> None:
        sub = str(handle)
        left = self.open.get(sub, 1) - 1
        if left > 0:
            self.open[sub] = left
        else:
            self.open.pop(sub, None)
