"""End-to-end fixtures: Debian's Chromium driven by pytest-playwright, against
the real reference server, with a guard that fails a test whose page sends any
request off 127.0.0.1."""
from __future__ import annotations

import os
import shutil
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import RunningServer
from tests.e2e.api import MINTERS
from tests.e2e.production import IDENTITIES, Person, Portal, UrlGuard, conversations_for, production_server

READY_TIMEOUT_MS = 60_000
# Two cores run the server, Chromium and Pyodide at once: allow a busy machine some slack.
expect.set_options(timeout=10_000)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]


def pytest_collection_modifyitems(config, items):
    if config.getoption("--mode") == "production":
        skip = pytest.mark.skip(reason="about development mode only (?as= identities, a first paint that knows the reader)")
        for item in items:
            if item.get_closest_marker("development_only"):
                item.add_marker(skip)


def wait_ready(page: Page, timeout: int = READY_TIMEOUT_MS) -> None:
    """Python has taken the canvas over. The text box works before that (static/early.mjs):
    the composer stays aria-busy until Python can judge files and send."""
    expect(page.get_by_role("form", name="Message composer")).to_have_attribute("aria-busy", "false", timeout=timeout)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = os.environ.get("ATTACHE_CHROMIUM") or shutil.which("chromium") or shutil.which("google-chrome")
    if not executable:
        pytest.fail("no Chromium found: run the tests with `python3 build.py test`")
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1100, "height": 800}}


class OffsiteGuard:
    """Records every request a page makes that leaves the loopback host."""

    def __init__(self) -> None:
        self.offsite: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("request", self._check)

    def _check(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.hostname not in ("127.0.0.1",):
            self.offsite.append(request.url)


@pytest.fixture(scope="session")
def token_portal():
    """The portal on its own origin: session cookies in, signed tokens out (tests/e2e/production.py)."""
    started = Portal().start()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def reference_server(request, tmp_path_factory, token_portal):
    """One server for the session; tests isolate themselves by conversation id.
    `--mode production`: a production-mode server whose pages get their tokens from `token_portal`."""
    root = tmp_path_factory.mktemp("server")
    if request.config.getoption("--mode") == "production":
        server = production_server(root, token_portal)
        # v1's tests open some pages by hand with ?as=agent: without a portal session, they are the agent
        token_portal.anonymous = Person("agent", "Agent", "agent", ["*"])
        MINTERS[server.url] = lambda identity, conversation: server.mint(
            IDENTITIES[identity][0], IDENTITIES[identity][2],
            conversations_for(IDENTITIES[identity][2], conversation), IDENTITIES[identity][1])
    else:
        (root / "data").mkdir()
        server = RunningServer(root / "data").start()
    yield server
    server.stop()


@pytest.fixture()
def url_guard(token_portal):
    """No access token in any URL a page requests (production tokens, development tokens alike)."""
    guard = UrlGuard(token_portal)
    yield guard
    leaks = guard.leaks()
    assert leaks == [], f"a page put an access token in a URL: {leaks}"


def sign_in(context, server, identity: str, conversation: str) -> str:
    """Production: a portal session for v1's identity ("agent" sees every conversation)."""
    sub, name, role = IDENTITIES[identity]
    return server.portal.sign_in(context, sub, name, role, conversations_for(role, conversation))


@pytest.fixture()
def offsite_guard():
    guard = OffsiteGuard()
    yield guard
    assert guard.offsite == [], f"the page requested other hosts: {guard.offsite}"


@pytest.fixture()
def conversation() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def open_app(browser, reference_server, offsite_guard, url_guard, conversation):
    """open_app(identity="agent") -> a ready Page on this test's conversation
    (production servers: signed in at the portal as that identity)."""
    contexts = []

    def open_(identity: str = "agent", server=None, conv: str | None = None, **context_args) -> Page:
        server = server or reference_server
        context = browser.new_context(**{"viewport": {"width": 1100, "height": 800}, **context_args})
        contexts.append(context)
        page = context.new_page()
        offsite_guard.watch(page)
        url_guard.watch(page)
        # Shown by pytest when a test fails: the browser's own account of it.
        page.on("console", lambda m: print(f"[{identity} console.{m.type}] {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: print(f"[{identity} pageerror] {e}"))
        if getattr(server, "portal", None) is not None:
            sign_in(context, server, identity, conv or conversation)
            page.goto(f"{server.url}/?conversation={conv or conversation}")
        else:
            page.goto(f"{server.url}/?as={identity}&conversation={conv or conversation}")
        wait_ready(page)
        return page

    yield open_
    for context in contexts:
        context.close()
