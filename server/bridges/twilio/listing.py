"""One page of a conversation's messages from Twilio: `GET /v1/Conversations/{sid}/Messages`.

Why not the `twilio` library's paging here: a history read must tell a
passing fault (429 with its `Retry-After`, a lost answer, 5xx), which is
tried again later, from a refusal, and keep Retry-After, which the library's
page reads drop. The request goes through the same httpx pool, API-key
auth and host check (`RewritingHttpClient.target`, which also rewrites
`meta.next_page_url`) as every other call to Twilio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from server.bridges.twilio.bridge import TwilioBridge, our_mark
from server.bridges.twilio.incoming import iso_time
from server.bridges.twilio.problems import from_exception, problem
from server.http.api_error import ApiError


class Passing(Exception):
    """A fault that passes (rate limit, lost answer, 5xx): try again after `retry_after` or a backoff."""

    def __init__(self, error: ApiError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error, self.retry_after = error, retry_after


@dataclass(frozen=True)
class Listed:
    """One message as Twilio's list answers it (newest first)."""

    sid: str
    index: int
    author: str
    body: str
    media: tuple[dict[str, Any], ...]
    created_at: str
    key: str | None            # our idempotency key, when this server (or another Attache) sent it

    @classmethod
    def from_json(cls, m: dict[str, Any]) -> Listed:
        mark = our_mark(m.get("attributes"))
        media, index = m.get("media"), m.get("index")
        if not isinstance(media, list):
            media = []
        if not isinstance(index, int):
            index = 0
        return cls(str(m.get("sid") or ""), index, str(m.get("author") or "customer"),
                   str(m.get("body") or ""), tuple(i for i in media if isinstance(i, dict)),
                   iso_time(str(m.get("date_created") or "")), mark[0] if mark else None)


async def list_page(bridge: TwilioBridge, url: str) -> tuple[list[Listed], str | None]:
    """One page of `GET .../Messages` (newest first) and Twilio's `meta.next_page_url`."""
    settings = bridge.settings
    try:
        target = bridge.client.http_client.target(url)
    except ValueError:      # a paging link to another host: never followed with our credentials
        raise problem(502, None) from None
    try:
        r = await bridge.http.get(target, headers={"Accept": "application/json"},
                                  auth=httpx.BasicAuth(settings.api_key_sid, settings.api_key_secret.reveal()))
    except (httpx.TimeoutException, httpx.TransportError) as exc:
        raise Passing(from_exception(exc)) from None
    try:
        data = r.json()
    except ValueError:
        data = None
    body = data if isinstance(data, dict) else {}
    code = body.get("code") if isinstance(body.get("code"), int) else None
    if r.status_code == 429 or r.status_code >= 500:
        raise Passing(problem(r.status_code, code), retry_after(r.headers.get("retry-after")))
    if r.status_code >= 400 or not isinstance(body.get("messages"), list):
        raise problem(r.status_code if r.status_code >= 400 else 502, code)
    meta = body.get("meta")
    following = meta.get("next_page_url") if isinstance(meta, dict) else None
    if not isinstance(following, str):
        following = None
    return [Listed.from_json(m) for m in body["messages"] if isinstance(m, dict)], following or None


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (a number, or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
