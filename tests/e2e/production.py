"""Production mode end to end: a reference server with [auth], and a portal on another origin.

The portal is what a real deployment puts in front of Attache, cut down to
what the page needs: a session cookie (the "signed in" switch) and a
`token_url` that answers `{"token": ...}` to a request carrying that cookie,
minted with `build.py token`'s own code (server.auth.tokens.mint) and the key the
server reads. It runs in a thread of the test process, on its own port: a
different origin than the page, so CORS with credentials and the page's CSP
`connect-src` are exercised as in a deployment.
"""
from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from server.auth.tokens import mint
from tools.services.attache import AGENT_TOKEN, CUSTOMER_TOKEN, RunningServer
from tools.services.process import free_port

KEY = b"0f1e2d3c4b5a69788796a5b4c3d2e1f0" * 2 + b"\n"  # as `openssl rand -hex 32 > FILE` writes it
COOKIE = "portal_session"
JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.")  # a JWT's header and payload (a random ticket has no dots)


@dataclass
class Person:
    sub: str
    name: str
    role: str
    conversations: list[str]
    ttl: int = 3600
    signed_in: bool = True


@dataclass
class Issued:
    at: float
    sid: str
    token: str
    exp: int


@dataclass
class Portal:
    """Sessions by cookie; every token it hands out is recorded in `issued`."""

    key: bytes = KEY
    sessions: dict[str, Person] = field(default_factory=dict)
    anonymous: Person | None = None  # who a request without a session cookie is (None: nobody)
    issued: list[Issued] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + "/attache/token"

    def sign_in(self, context, sub: str, name: str, role: str, conversations: list[str], ttl: int = 3600) -> str:
        """A portal session for `context` (its cookie jar); returns the session id."""
        sid = secrets.token_urlsafe(16)
        self.sessions[sid] = Person(sub, name, role, conversations, ttl)
        context.add_cookies([{"name": COOKIE, "value": sid, "url": self.url}])
        return sid

    def sign_out(self, sid: str) -> None:
        self.sessions[sid].signed_in = False

    def sign_in_again(self, sid: str) -> None:
        self.sessions[sid].signed_in = True

    def tokens_of(self, sid: str) -> list[Issued]:
        return [i for i in self.issued if i.sid == sid]

    def answer(self, cookie_header: str) -> tuple[int, dict]:
        cookies = dict(part.strip().split("=", 1) for part in cookie_header.split(";") if "=" in part)
        person = self.sessions.get(cookies.get(COOKIE, ""), None if COOKIE in cookies else self.anonymous)
        if person is None or not person.signed_in:
            return 401, {"error": "signed_out"}
        now = int(time.time())
        token = mint(self.key, person.sub, person.role, person.conversations, person.name, person.ttl, now=now)
        self.issued.append(Issued(time.time(), cookies.get(COOKIE, ""), token, now + person.ttl))
        return 200, {"token": token}

    def start(self) -> "Portal":
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                status, body = portal.answer(self.headers.get("Cookie", "")) if self.path == "/attache/token" \
                    else (404, {"error": "not_found"})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                origin = self.headers.get("Origin")
                if origin and origin.startswith("http://127.0.0.1:"):  # the page's origin, with its cookies
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Access-Control-Allow-Credentials", "true")
                    self.send_header("Vary", "Origin")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def production_server(root: Path, portal: Portal | None, *, token_url: str | None = None,
                      extra_auth: str = "", server_table: str = "") -> RunningServer:
    """A production-mode reference server whose key the portal shares; started."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "jwt.key").write_bytes(KEY)
    url = token_url if token_url is not None else (portal.token_url if portal else "")
    config = root / "config.toml"
    config.write_text(f'[server]\nmax_streams_per_identity = 50\n{server_table}\n'
                      f'[auth]\nsecret_file = "jwt.key"\ntoken_url = "{url}"\n{extra_auth}\n')
    server = RunningServer(root / "data", config, log=root / "server.log").start()
    server.portal = portal
    server.mint = lambda sub, role, conversations, name="", ttl=3600: mint(KEY, sub, role, conversations, name, ttl)
    return server


# v1's identities, as a portal would sign them in: the agent sees every conversation, the customer theirs.
IDENTITIES = {"agent": ("agent", "Agent", "agent"), "customer": ("customer", "Customer", "customer")}


def conversations_for(role: str, conversation: str) -> list[str]:
    return ["*"] if role == "agent" else [conversation]


class UrlGuard:
    """Records every URL a page requests; no access token may be in one."""

    def __init__(self, portal: Portal | None) -> None:
        self.portal = portal
        self.urls: list[str] = []

    def watch(self, page) -> None:
        page.on("request", lambda request: self.urls.append(request.url))

    def leaks(self) -> list[str]:
        tokens = [i.token for i in self.portal.issued] if self.portal else []
        tokens += [AGENT_TOKEN, CUSTOMER_TOKEN]  # development identities' tokens
        return [u for u in self.urls if JWT.search(u) or "access_token" in u or any(t in u for t in tokens)]
