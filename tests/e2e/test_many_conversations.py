"""An agent's many conversations, all live: twenty canvases in one portal page and eight tabs share
one event stream (a browser keeps six connections per host, the server caps streams per identity),
and a stream the server refuses is said in words, with what to do, until it is live again."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.api import Api
from tests.e2e.conftest import sign_in, wait_ready
from tools import waiting
from tests.e2e.portal_site import OPEN_FEEDS as OPEN, PORTAL_JS, PortalSite, portal_csp

LIVE_TIMEOUT_MS = 30_000


def conversations(count: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"many-{run}-{i:02}" for i in range(count)]


@pytest.fixture()
def desk(tmp_path):
    root = tmp_path / "desk"
    root.mkdir()
    site = PortalSite(root)
    yield site
    site.close()


def chat(page, conversation: str):
    return page.get_by_role("region", name=f"Chat {conversation}")


def test_twenty_canvases_in_one_page_share_one_stream_and_all_are_live(browser, make_server, desk, offsite_guard):
    """The server's default cap is 5 streams per identity: twenty streams could not be."""
    server = make_server(config_text=f'[server]\ncors_allow_origins = ["{desk.url}"]\n')
    desk.csp = portal_csp(server.url)
    names = conversations(20)
    desk.page(server.url, names, "attache-canvas { height: 420px; display: block; }")
    context = browser.new_context()
    page = context.new_page()
    offsite_guard.watch(page)
    try:
        page.goto(f"{desk.url}/")
        composers = page.get_by_role("form", name="Message composer")
        expect(composers).to_have_count(20)
        for i in range(20):
            expect(composers.nth(i)).to_have_attribute("aria-busy", "false", timeout=60_000)
        for name in names:
            expect(chat(page, name).get_by_role("status")).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)
        assert page.evaluate(OPEN) == 1

        customer = Api(server.url)
        for name in names:
            customer.send(name, text=f"hello from {name}")
        for name in names:
            log = chat(page, name).get_by_role("log", name="Conversation")
            expect(log).to_contain_text(f"hello from {name}", timeout=LIVE_TIMEOUT_MS)
            expect(log.locator("article")).to_have_count(1)      # its own message only, once
        assert page.evaluate(OPEN) == 1
        print(f"20 canvases: {page.evaluate('window.sources.length')} EventSources opened in all")

        # A canvas taken out leaves the set; the others stay live on one stream.
        page.evaluate(f"document.querySelector('attache-canvas[conversation=\"{names[0]}\"]').remove()")
        customer.send(names[1], text="after one left")
        expect(chat(page, names[1]).get_by_role("log", name="Conversation")).to_contain_text(
            "after one left", timeout=LIVE_TIMEOUT_MS)
        page.wait_for_function(f"{OPEN} === 1")
    finally:
        context.close()


def open_tab(context, server, conversation: str):
    page = context.new_page()
    if getattr(server, "portal", None) is not None:
        page.goto(f"{server.url}/?conversation={conversation}")
    else:
        page.goto(f"{server.url}/?as=agent&conversation={conversation}")
    return page


def one_stream(tabs) -> None:
    """One EventSource open among the tabs, once they settle: a stream is opened anew for a tab
    that joined (its status says "Live" only when it is open), and a new leader opens its own
    once the lock of the tab that went is free, which may be after the tab's last events came."""
    waiting.wait_until(lambda: sum(tab.evaluate(OPEN) for tab in tabs) == 1, "one stream for all the tabs",
                       LIVE_TIMEOUT_MS / 1000, 0.1, waiting.page_pause(tabs[0]))


def test_eight_tabs_of_one_agent_share_one_stream_and_another_tab_takes_over(
        browser, reference_server, offsite_guard, url_guard):
    """Six connections per host for the whole browser: eight tabs could not each hold a stream."""
    names = conversations(8)
    context = browser.new_context()
    context.add_init_script(PORTAL_JS)
    if getattr(reference_server, "portal", None) is not None:
        sign_in(context, reference_server, "agent", names[0])
    try:
        tabs = []
        for name in names:
            tab = open_tab(context, reference_server, name)
            offsite_guard.watch(tab)
            url_guard.watch(tab)
            tabs.append(tab)
        for tab in tabs:
            wait_ready(tab)
            expect(tab.get_by_role("status")).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)
        one_stream(tabs)

        customer = Api(reference_server.url)
        for name in names:
            customer.send(name, text=f"to the tab of {name}")
        for tab, name in zip(tabs, names):
            log = tab.get_by_role("log", name="Conversation")
            expect(log).to_contain_text(f"to the tab of {name}", timeout=LIVE_TIMEOUT_MS)
            expect(log.locator("article")).to_have_count(1)

        # The leader tab closes: another takes the stream over, from where the tabs are.
        [leader] = [tab for tab in tabs if tab.evaluate(OPEN) == 1]
        rest = [(tab, name) for tab, name in zip(tabs, names) if tab is not leader]
        leader.close()
        for name in names:
            customer.send(name, text=f"after the leader went, to {name}")
        for tab, name in rest:
            log = tab.get_by_role("log", name="Conversation")
            expect(log).to_contain_text(f"after the leader went, to {name}", timeout=LIVE_TIMEOUT_MS)
            expect(log.locator("article")).to_have_count(2)      # nothing missed, nothing twice
        one_stream([tab for tab, _ in rest])
    finally:
        context.close()


def test_a_stream_the_server_refuses_is_said_with_what_to_do_until_it_is_live_again(
        browser, make_server, offsite_guard):
    """One stream allowed per identity; the agent's laptop holds it, so their second browser
    (another profile, another device) is refused: it says so, and connects once the first goes."""
    server = make_server(config_text="[server]\nmax_streams_per_identity = 1\n")
    first_name, second_name = conversations(2)
    first, second = browser.new_context(), browser.new_context()
    try:
        laptop = open_tab(first, server, first_name)
        wait_ready(laptop)
        expect(laptop.get_by_role("status")).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)

        phone = open_tab(second, server, second_name)
        offsite_guard.watch(phone)
        wait_ready(phone)
        status = phone.get_by_role("status")
        expect(status).to_have_text("Too many open tabs for this account: close one", timeout=LIVE_TIMEOUT_MS)
        expect(status).to_have_attribute("title", re.compile("connects by itself"))

        first.close()              # the other tab goes: the refused one connects by itself
        expect(status).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)
        expect(status).not_to_have_attribute("title", re.compile("."))
        Api(server.url).send(second_name, text="now live here")
        expect(phone.get_by_role("log", name="Conversation")).to_contain_text("now live here")
    finally:
        second.close()
        if first.pages:
            first.close()
