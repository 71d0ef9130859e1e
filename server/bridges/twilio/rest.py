"""HTTP to Twilio: the `twilio` library's REST client over httpx, and the Media Content Service.

Why a custom `HttpClient`: the library builds every Conversations URL on
`https://conversations.twilio.com` (and paging links come back absolute in
the answers); ours rewrites that prefix to `api_base_url` and refuses any other
host, so the account's credentials can only go where the configuration says.
It is async on the app's event loop (httpx, which the project already uses),
with timeouts we choose and no automatic retries: idempotency is ours.

MCS is not in the `twilio` library: it is two documented calls, made here
with the same httpx client and API-key basic auth.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from server.bridges.twilio.problems import McsError
from server.config.twilio_config import TwilioSettings
from server.http.json_body import scrub_surrogates

TWILIO_CONVERSATIONS = "https://conversations.twilio.com"
CHUNK = 1024 * 1024
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
log = logging.getLogger("attache.twilio")


class RewritingHttpClient(AsyncHttpClient):
    """Sends the `twilio` library's requests to `api_base_url` through httpx."""

    def __init__(self, http: httpx.AsyncClient, api_base_url: str) -> None:
        super().__init__(log, is_async=True, timeout=None)
        self.http, self.base = http, api_base_url.rstrip("/")

    def target(self, url: str) -> str:
        if url.startswith(TWILIO_CONVERSATIONS + "/"):
            url = self.base + url[len(TWILIO_CONVERSATIONS):]
        if not url.startswith(self.base + "/"):
            raise ValueError(f"refusing to send Twilio credentials to {url.split('?')[0]!r}")
        return url

    async def request(self, method: str, uri: str, params: Any = None, data: Any = None,
                      headers: Any = None, auth: Any = None, timeout: Any = None,
                      allow_redirects: bool = False) -> TwilioResponse:
        response = await self.http.request(
            method, self.target(uri), params=params or None, data=data or None, headers=headers,
            auth=httpx.BasicAuth(*auth) if auth else None, follow_redirects=False)
        return TwilioResponse(response.status_code, response.text, response.headers)


def make_client(settings: TwilioSettings, http: httpx.AsyncClient) -> Client:
    """The `twilio` REST client authenticated with the API key (never the auth token)."""
    return Client(settings.api_key_sid, settings.api_key_secret.reveal(), settings.account_sid,
                  http_client=RewritingHttpClient(http, settings.api_base_url), environment={})


def new_http() -> httpx.AsyncClient:
    """One connection pool for Twilio; no environment proxies or netrc (trust_env off)."""
    return httpx.AsyncClient(timeout=TIMEOUT, trust_env=False, follow_redirects=False)


@dataclass(frozen=True)
class MediaInfo:
    sid: str
    content_type: str
    size: int
    filename: str
    content_url: str  # links.content_direct_temporary: short-lived, needs no auth


class Mcs:
    """Media Content Service: `POST .../Media` (raw body) and `GET .../Media/{sid}`."""

    def __init__(self, settings: TwilioSettings, http: httpx.AsyncClient) -> None:
        self.http = http
        self.url = f"{settings.media_base_url}/v1/Services/{settings.chat_service_sid}/Media"
        self.auth = httpx.BasicAuth(settings.api_key_sid, settings.api_key_secret.reveal())

    async def upload(self, chunks: AsyncIterator[bytes], content_type: str, size: int) -> str:
        """Stream the file's bytes as the raw body; the new MediaSid ("ME...")."""
        headers = {"Content-Type": content_type or "application/octet-stream", "Content-Length": str(size),
                   "Accept": "application/json"}
        response = await self.http.post(self.url, content=chunks, headers=headers, auth=self.auth)
        data = _json(response, "upload media")
        sid = data.get("sid")
        if not isinstance(sid, str) or not sid.startswith("ME"):
            raise McsError(502, None, "Twilio's media service answered without a media SID.")
        return sid

    async def describe(self, media_sid: str) -> MediaInfo:
        """The media's JSON; `links.content_direct_temporary` is where the bytes are."""
        if not media_sid.isalnum():
            raise McsError(422, None, "Invalid media SID in the webhook.")
        data = _json(await self.http.get(f"{self.url}/{media_sid}", auth=self.auth,
                                         headers={"Accept": "application/json"}), "describe media")
        links = data.get("links")
        url = links.get("content_direct_temporary") if isinstance(links, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise McsError(502, None, "Twilio's media service gave no temporary content URL.")
        size = data.get("size")
        return MediaInfo(media_sid, str(data.get("content_type") or ""), size if isinstance(size, int) else -1,
                         str(data.get("filename") or ""), url)

    async def content(self, info: MediaInfo, limit: int) -> AsyncGenerator[bytes, None]:
        """The bytes, streamed; no credentials go to the temporary URL (it is pre-signed, and may redirect)."""
        async with self.http.stream("GET", info.content_url, follow_redirects=True) as response:
            if response.status_code != 200:
                raise McsError(502 if response.status_code >= 500 else response.status_code, None,
                               f"Twilio's media content answered {response.status_code}.")
            received = 0
            async for chunk in response.aiter_bytes(CHUNK):
                received += len(chunk)
                if received > limit:
                    raise McsError(413, None, f"The customer's file is over {limit:,} bytes.")
                yield chunk


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = scrub_surrogates(response.json())   # names and messages reach files, headers, answers
    except ValueError:
        data = None
    if response.status_code >= 400:
        body = data if isinstance(data, dict) else {}
        code = body.get("code") if isinstance(body.get("code"), int) else None
        raise McsError(response.status_code, code, str(body.get("message") or f"{what}: HTTP {response.status_code}"))
    if not isinstance(data, dict):
        raise McsError(502, None, f"Twilio's media service sent no JSON ({what}).")
    return data
