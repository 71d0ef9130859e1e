"""The one place the page talks to the network: fetch for the sans-IO adapters and upload machines.

A Request's FileSlice body is sent as `File.slice()` (the File itself when the
slice is the whole file), so the file's bytes go from the browser's blob store
to the socket and never through Python memory. The Request's headers are sent
as they are, so a PATCH says `application/offset+octet-stream` whatever the
file's type. Failures come back as values (status 0 = network error, or
`TIMED_OUT` when the timer fired); the one exception is `Cancelled`, when the
user cancelled (`Call.cancel`), which also ends a `Call.sleep`.
"""
from __future__ import annotations

import asyncio
import contextlib
import json

from js import AbortController, Blob, Object, clearTimeout, fetch, setTimeout
from pyodide.ffi import create_proxy, to_js

from app.browser import auth
from app.core.http import TIMED_OUT, Request, Response

NETWORK_ERROR = 0
# Unless the Request says (a long-poll): an API call should answer soon, a chunk may take a while on a slow link.
BASE_TIMEOUT_S = 15.0
MIN_BYTES_PER_S = 1_000_000


class Cancelled(Exception):
    """The user cancelled (AbortController)."""


class Call:
    """What one message's delivery has in flight (a request or a wait), cancellable from the UI."""

    def __init__(self) -> None:
        self.controller = AbortController.new()
        self.cancelled = False
        self._wake = asyncio.Event()

    def cancel(self) -> None:
        self.cancelled = True
        self.controller.abort()
        self._wake.set()

    async def until_cancelled(self) -> None:
        await self._wake.wait()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (an upload machine's Wait); Cancelled when the user cancels meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        if self.cancelled:
            raise Cancelled()


def timeout_for(request: Request) -> float:
    """The Request's own timeout, else 15 s plus a second per MB of body."""
    if request.timeout is not None:
        return request.timeout
    size = request.body.end - request.body.start if request.body else 0
    return BASE_TIMEOUT_S + size / MIN_BYTES_PER_S


def _body(request: Request, file):
    if request.json is not None:
        return json.dumps(request.json)
    if request.body is None:
        return None
    start, end = request.body.start, request.body.end
    return file if start == 0 and end >= file.size else file.slice(start, end)


async def perform(request: Request, file=None, call: Call | None = None) -> Response:
    """Run `request` with fetch (`file`: the JS File a FileSlice body is cut from); a Response even when
    the network fails. The current access token goes in (app.browser.auth renews an expired one once)."""
    return await auth.send(_fetch, request, file, call)


async def _fetch(request: Request, file=None, call: Call | None = None) -> Response:
    call = call or Call()
    if call.cancelled:
        raise Cancelled()
    headers = dict(request.headers)
    if request.json is not None:
        headers.setdefault("Content-Type", "application/json")
    init = {"method": request.method, "headers": headers, "signal": call.controller.signal}
    body = _body(request, file)
    if body is not None:
        init["body"] = body
    timed_out = []

    def on_timeout():
        timed_out.append(True)
        call.controller.abort()

    timer_proxy = create_proxy(on_timeout)
    timer = setTimeout(timer_proxy, int(timeout_for(request) * 1000))
    try:
        response = await fetch(request.url, to_js(init, dict_converter=Object.fromEntries))
        found = Object.fromEntries(response.headers).to_py()
        # Each await costs a turn of the browser's event loop: none for a body that cannot be there.
        bodiless = response.status in (204, 304) or request.method == "HEAD" or found.get("content-length") == "0"
        text = "" if bodiless else await response.text()
        return Response(status=response.status, headers=found, text=text)
    except Exception as error:  # fetch rejects with a TypeError/AbortError on network failure
        if call.cancelled:
            raise Cancelled() from None
        if timed_out:  # the call's controller is spent: a later request of this call needs a fresh one
            call.controller = AbortController.new()
        return Response(status=NETWORK_ERROR, headers={}, text=TIMED_OUT if timed_out else _js_message(error))
    finally:
        clearTimeout(timer)
        timer_proxy.destroy()


def _js_message(error: Exception) -> str:
    text = str(error)
    return text.split(":", 1)[-1].strip() if text else "network error"


async def get_json(url: str):
    """GET a same-origin JSON document (the page's configuration)."""
    response = await perform(Request("GET", url, {"Accept": "application/json"}))
    if response.status != 200:
        detail = f"HTTP {response.status}" if response.status else response.text
        raise ValueError(f"Could not load {url} ({detail})")
    try:
        return json.loads(response.text)
    except ValueError:
        raise ValueError(f"{url} is not valid JSON") from None


async def fetch_blob(request: Request, content_type: str = ""):
    """Fetch media as a Blob that stays in JavaScript: `(status, blob)`, blob None unless 2xx.

    The Blob is made again with `content_type` (ours, never the server's), so
    what a `blob:` URL of it shows is what the page decided (app.core.media).
    `content_type` "" keeps the server's, for a caller that judges it first.
    The current access token goes in, as with `perform`."""
    got: list = []
    response = await auth.send(_fetch_blob, request, got)
    blob = got[0] if got and response.ok else None
    if blob is None or not content_type:
        return response.status, blob
    return response.status, Blob.new(to_js([blob]), to_js({"type": content_type}, dict_converter=Object.fromEntries))


async def _fetch_blob(request: Request, got: list) -> Response:
    """One fetch of `request`; the body of a 2xx answer goes into `got` as a Blob, an error's is read as text."""
    init = {"method": request.method, "headers": dict(request.headers)}
    try:
        response = await fetch(request.url, to_js(init, dict_converter=Object.fromEntries))
        if not response.ok:
            return Response(int(response.status), Object.fromEntries(response.headers).to_py(), await response.text())
        got[:] = [await response.blob()]
        return Response(int(response.status), {})
    except Exception as error:  # network failure, CORS refusal
        return Response(NETWORK_ERROR, {}, _js_message(error))
