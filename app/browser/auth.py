"""The page's access token: where it comes from, when it is renewed, what happens when it cannot be.

Three sources, picked by the page config's ``backend`` table:
- ``identities`` (development, or a config written for one user): a fixed token;
- ``token_url`` (production): the portal's endpoint, fetched with the portal's
  cookies (``credentials: "include"``), answering ``{"token": "..."}``;
- neither: the embedding page hands tokens over in code, ``window.attache.setToken(token)``,
  and hears ``attache:token-needed`` on ``window`` whenever the page needs one.
A handed-over token is taken whatever the source (a portal may push its own).

A Matrix access token is no JWT: the page reads nothing from it (who we are,
the homeserver's ``whoami`` says), and it is renewed only when refused.

The token is renewed before its ``exp`` (app.core.token.refresh_delay); every
request goes through :func:`send` (called by the transport), which puts the
current token in place of an older one and, when the server still answers
401 ``token_expired`` (a laptop that slept through the renewal), renews once
and sends again. When the portal refuses (signed out), ``on_signed_out`` gets a
Problem and the page says "Sign in again"; nothing the user wrote is dropped.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from js import AbortSignal, CustomEvent, Date, Object, fetch, window
from pyodide.ffi import create_proxy, to_js

from app.browser.dom import maybe
from app.core.http import Request, Response
from app.core.models import Problem
from app.core.token import TokenClaims, dev_claims, expired_answer, read_claims, refresh_delay

PORTAL_TIMEOUT_MS = 15_000
HANDED_WAIT_S = 15.0  # how long the page waits for the embedding page's token before saying so
KEEP_OLD = 8  # earlier tokens recognised in requests built before a renewal (uploads in progress)
OPAQUE_ADAPTERS = ("matrix",)  # their tokens are not JWTs: the backend says who we are (Matrix whoami)

SIGNED_OUT = Problem("signed_out", "Sign in again: your session with the portal has ended.",
                     "Sign in (another tab is fine), then choose Try again. "
                     "Your draft and unsent messages are kept.")
NOT_HANDED = Problem("no_token", "Sign in again: the page has no access token.",
                     "The site showing this conversation did not hand one over. Sign in, then choose Try again.")
BAD_TOKEN = Problem("bad_token", "The portal answered with a token Attache cannot read.",
                    "Tell the administrator: the token URL must answer {\"token\": \"<JWT>\"}.")


class SignedOut(Exception):
    """No token can be had until the user signs in again (or the portal is fixed)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class Unavailable(Exception):
    """The portal could not be reached or failed (network, 5xx, 429): asking later may work."""


def _now() -> float:
    return float(Date.now()) / 1000


class Session:
    def __init__(self, kind: str, token_url: str = "", token: str = "", claims: TokenClaims | None = None,
                 opaque: TokenClaims | None = None) -> None:
        self.kind = kind  # "static" | "portal" | "handed"
        self.token_url = token_url
        self.opaque = opaque  # the claims of any token that is not a JWT (an opaque backend's); None: refused
        self.token, self.claims = token, claims
        self.signed_out = False
        self._old: list[str] = []
        self._renewing: asyncio.Future | None = None
        self._handed: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.on_token: list[Callable[[], None]] = []  # a new token is in place
        self.on_signed_out: Callable[[Problem], None] = lambda problem: None
        self.on_signed_in: Callable[[], None] = lambda: None

    # ---- getting a token ---------------------------------------------------------------
    async def renew(self) -> str:
        """A fresh token (one request at a time, whoever asks); SignedOut or Unavailable otherwise."""
        if self.kind == "static":
            return self.token
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.ensure_future(self._fetch() if self.kind == "portal" else self._ask())
        try:
            token = await asyncio.shield(self._renewing)
        except SignedOut as refused:
            self._sign_out(refused.problem)
            raise
        self.accept(token)
        return token

    async def _fetch(self) -> str:
        init = {"credentials": "include", "cache": "no-store", "headers": {"Accept": "application/json"},
                "signal": AbortSignal.timeout(PORTAL_TIMEOUT_MS)}
        try:
            response = await fetch(self.token_url, to_js(init, dict_converter=Object.fromEntries))
            status, text = int(response.status), str(await response.text())
        except Exception:  # network failure, CORS refusal, timeout
            raise Unavailable() from None
        if status in (401, 403):
            raise SignedOut(SIGNED_OUT)
        if status == 429 or status >= 500 or status == 0:
            raise Unavailable()
        return _token_from(status, text)

    async def _ask(self) -> str:
        """Handed mode: ask the embedding page (an event on window) and wait for setToken."""
        if self._handed is None or self._handed.done():
            self._handed = asyncio.get_running_loop().create_future()
        window.dispatchEvent(CustomEvent.new("attache:token-needed"))
        try:
            return await asyncio.wait_for(asyncio.shield(self._handed), HANDED_WAIT_S)
        except TimeoutError:
            raise SignedOut(NOT_HANDED) from None

    def hand_over(self, token: Any) -> None:
        """window.attache.setToken(token): the embedding page's token, taken at once."""
        if not isinstance(token, str) or not token:
            return
        if self._handed is not None and not self._handed.done():
            self._handed.set_result(token)
        else:
            self.accept(token)

    def accept(self, token: str) -> None:
        """Put `token` in place: its claims, the next renewal, everyone told."""
        if token == self.token:
            return
        try:
            claims = read_claims(token)
        except ValueError:
            if self.opaque is None:
                self._sign_out(BAD_TOKEN)
                return
            claims = self.opaque
        if self.token:
            self._old = [self.token, *self._old][:KEEP_OLD]
        self.token, self.claims = token, claims
        self._schedule(refresh_delay(claims, _now()))
        was_out, self.signed_out = self.signed_out, False
        for listener in list(self.on_token):
            listener()
        if was_out:
            self.on_signed_in()

    def _sign_out(self, problem: Problem) -> None:
        self.signed_out = True
        self.on_signed_out(problem)

    def _schedule(self, delay: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if delay is not None:
            self._timer = asyncio.get_running_loop().call_later(delay, self._renew_in_background)

    def _renew_in_background(self) -> None:
        asyncio.ensure_future(self._background())

    async def _background(self, attempt: int = 0) -> None:
        """The renewal before exp; a portal that is down is asked again (1, 2, 4 ... 30 s)."""
        try:
            await self.renew()
        except SignedOut:
            pass  # on_signed_out told the user
        except Unavailable:
            self._schedule(min(30.0, 2.0 ** attempt))

    # ---- using it ------------------------------------------------------------------------
    def authorize(self, request: Request) -> Request:
        """`request` with the current token where it carries one of ours that is older."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self._old or not self.token:
            return request
        return dataclasses.replace(request, headers={**request.headers, "Authorization": f"Bearer {self.token}"})

    def ours(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and (header[7:] == self.token or header[7:] in self._old)


_session: Session | None = None


async def send(perform: Callable[..., Awaitable[Response]], request: Request, *args) -> Response:
    """Perform `request` with the current token; on 401 token_expired renew once and send again."""
    session = _session
    if session is None:
        return await perform(request, *args)
    request = session.authorize(request)
    response = await perform(request, *args)
    if session.kind == "static" or not session.ours(request) or session.signed_out \
            or not expired_answer(response.status, response.headers, response.text):
        return response
    try:
        await session.renew()
    except (SignedOut, Unavailable):
        return response
    return await perform(session.authorize(request), *args)


def _token_from(status: int, text: str) -> str:
    try:
        body = json.loads(text) if status == 200 else None
    except ValueError:
        body = None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise SignedOut(SIGNED_OUT)  # "no token": the portal's way of saying nobody is signed in
    return token


def from_config(config: Mapping[str, Any], identity: str) -> Session:
    """The session the page config describes; ValueError naming what is wrong."""
    backend = config.get("backend") if isinstance(config, Mapping) else None
    if not isinstance(backend, Mapping):
        raise ValueError('config has no "backend" table')
    identities = backend.get("identities")
    if isinstance(identities, Mapping) and identities:
        if identity not in identities:
            raise ValueError(f"unknown identity {identity!r}; known identities: {', '.join(sorted(identities))}")
        entry = identities[identity]
        token = entry.get("token") if isinstance(entry, Mapping) else entry
        name = entry.get("name", "") if isinstance(entry, Mapping) else ""
        if not isinstance(token, str) or not token:
            raise ValueError(f"config backend.identities.{identity}.token must be a string")
        try:
            claims = read_claims(token)
        except ValueError:  # an opaque development token: the identity is who we are
            claims = dev_claims(identity, name if isinstance(name, str) else "")
        return Session("static", token=token, claims=claims)
    token_url = backend.get("token_url")
    if token_url is not None and not isinstance(token_url, str):
        raise ValueError("config backend.token_url must be a URL")
    opaque = dev_claims(identity) if backend.get("adapter") in OPAQUE_ADAPTERS else None
    return Session("portal", token_url=token_url, opaque=opaque) if token_url else Session("handed", opaque=opaque)


def install(session: Session) -> None:
    """Make `session` the page's, and offer `window.attache.setToken` to the embedding page."""
    global _session
    _session = session
    api = maybe(getattr(window, "attache", None))  # the embedding page may have made it first
    if api is None:
        api = Object.new()
    api.setToken = create_proxy(session.hand_over)
    window.attache = api
