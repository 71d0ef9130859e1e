"""The one place the page talks to the network: fetch for the sans-IO adapters.

A Request's FileSlice body is sent as `File.slice()`, so the file's bytes go
from the browser's blob store to the socket and never through Python memory.
Failures come back as values (status 0 = network error or timeout); the one
exception is `Cancelled`, when the user cancelled the request.
"""
from __future__ import annotations

import json

from js import AbortController, Object, clearTimeout, fetch, setTimeout
from pyodide.ffi import create_proxy, to_js

from app.backends.base import TIMED_OUT, Request, Response
from app.browser import auth

NETWORK_ERROR = 0
# A chunk may take a while on a slow link; an API call should not.
BASE_TIMEOUT_S = 15.0
MIN_BYTES_PER_S = 1_000_000


class Cancelled(Exception):
    """The user cancelled the request (AbortController)."""


class Call:
    """One request in flight, cancellable from the UI."""

    def __init__(self) -> None:
        self.controller = AbortController.new()
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.controller.abort()


def _timeout_for(request: Request) -> float:
    size = request.body.end - request.body.start if request.body else 0
    return BASE_TIMEOUT_S + size / MIN_BYTES_PER_S


async def perform(request: Request, handle=None, call: Call | None = None) -> Response:
    """Run `request` with fetch and the current access token (app.browser.auth renews an
    expired one once); return a Response even when the network fails."""
    return await auth.send(_fetch, request, handle, call)


async def _fetch(request: Request, handle=None, call: Call | None = None) -> Response:
    call = call or Call()
    headers = dict(request.headers)
    body = None
    if request.json is not None:
        headers.setdefault("Content-Type", "application/json")
        body = json.dumps(request.json)
    elif request.body is not None:
        whole = request.body.start == 0 and request.body.end >= handle.size
        body = handle if whole else handle.slice(request.body.start, request.body.end)
    init = {"method": request.method, "headers": headers, "signal": call.controller.signal}
    if body is not None:
        init["body"] = body
    timed_out = []

    def on_timeout():
        timed_out.append(True)
        call.controller.abort()

    timer_proxy = create_proxy(on_timeout)
    timer = setTimeout(timer_proxy, int(_timeout_for(request) * 1000))
    try:
        response = await fetch(request.url, to_js(init, dict_converter=Object.fromEntries))
        text = await response.text()
        found = Object.fromEntries(response.headers).to_py()
        return Response(status=response.status, headers={k.lower(): v for k, v in found.items()}, text=text)
    except Exception as error:  # fetch rejects with a TypeError/AbortError on network failure
        if call.cancelled:
            raise Cancelled() from None
        reason = TIMED_OUT if timed_out else _js_message(error)
        return Response(status=NETWORK_ERROR, headers={}, text=reason)
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
