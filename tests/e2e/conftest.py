"""End-to-end fixtures: Debian's Chromium driven by pytest-playwright, against
the real reference server, with a guard that fails a test whose page sends any
request off 127.0.0.1."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.production import IDENTITIES, UrlGuard, conversations_for
from tools.services.chromium import CHROMIUM_FLAGS, chromium_executable

READY_TIMEOUT_MS = 60_000
# Two cores run the server, Chromium and Pyodide at once: allow a busy machine some slack.
expect.set_options(timeout=10_000)


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
    executable = chromium_executable()
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


@pytest.fixture()
def url_guard(token_portal):
    """No access token in any URL a page requests (production tokens, development tokens alike)."""
    guard = UrlGuard(token_portal)
    yield guard
    leaks = guard.leaks()
    assert leaks == [], f"a page put an access token in a URL: {leaks}"


def next_frame(page) -> None:
    """Until the page has laid out and painted (two animation frames): what a scroll or a new
    message changed has been seen by the history's observers."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


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
