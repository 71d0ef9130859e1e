"""Faults a real deployment meets: a server restart, a cancelled upload."""
from __future__ import annotations

import json
import re

from playwright.sync_api import Error as PlaywrightError, expect

from tests import files
from tests.e2e.api import Api
from tests.e2e.test_canvas import attach


def test_server_restart_loses_nothing_and_the_page_reconnects(open_app, make_server, tmp_path):
    server = make_server()
    page = open_app("agent", server=server)
    attach(page, files.write(tmp_path, "before.png", files.png_bytes()))
    page.get_by_role("textbox", name="Message").fill("sent before the restart")
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article:not(.pending)").get_by_role("img", name="before.png")).to_be_visible()

    server.restart()
    conversation = page.evaluate("new URLSearchParams(location.search).get('conversation')")
    Api(server.url).send(conversation, text="sent by the customer after the restart")
    expect(log).to_contain_text("sent by the customer after the restart", timeout=15_000)
    expect(page.get_by_role("status")).to_have_text("Live")

    page.get_by_role("textbox", name="Message").fill("and the agent can still send")
    page.get_by_role("button", name="Send").click()
    expect(log.locator("article:not(.pending)")).to_have_count(3)

    page.reload()
    expect(page.get_by_role("textbox", name="Message")).to_be_enabled(timeout=60_000)
    expect(log.locator("article")).to_have_count(3)
    image = log.get_by_role("img", name="before.png")
    expect(image).to_be_visible()
    page.wait_for_function("[...document.images].some(i => i.alt === 'before.png' && i.naturalWidth > 0)")


def test_a_cancelled_upload_can_be_retried(open_app, reference_server, conversation, tmp_path):
    page = open_app("agent")
    held = []
    page.route("**/api/uploads/*", lambda route: held.append(route) if route.request.method == "PATCH" else route.continue_())
    attach(page, files.sized(tmp_path, "large.pdf", 10_000_000, files.PDF))
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_role("progressbar", name="Upload progress")).to_be_visible()
    log.get_by_role("button", name="Cancel").click()
    expect(log.get_by_role("alert")).to_contain_text("cancelled")
    page.unroute("**/api/uploads/*")
    for route in held:  # the cancelled request's route may already be settled
        try:
            route.abort()
        except PlaywrightError:
            pass
    log.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").get_by_role("link", name=re.compile("large.pdf"))).to_be_visible(timeout=30_000)
    assert len(Api(reference_server.url).history(conversation)) == 1


def test_offline_send_fails_visibly_and_retry_works_once_back_online(open_app, reference_server, conversation):
    page = open_app("agent")
    page.context.set_offline(True)
    page.get_by_role("textbox", name="Message").fill("written while offline")
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_role("alert")).to_contain_text("Could not reach the server")
    expect(log.locator("article.failed")).to_contain_text("written while offline")
    expect(log.get_by_role("button", name="Discard message")).to_be_visible()
    page.context.set_offline(False)
    log.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").filter(has_text="written while offline")).to_have_count(1)
    assert [m["text"] for m in Api(reference_server.url).history(conversation)] == ["written while offline"]


def test_a_reload_keeps_the_draft_and_the_unsent_message(open_app, reference_server, conversation, tmp_path):
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    page.context.set_offline(True)
    attach(page, files.write(tmp_path, "quote.pdf", files.PDF))
    page.get_by_role("textbox", name="Message").fill("the quote you asked for")
    page.get_by_role("button", name="Send").click()
    expect(log.locator("article.failed")).to_contain_text("quote.pdf")
    attach(page, files.write(tmp_path, "draft.png", files.png_bytes()))
    expect(page.get_by_role("group", name="Attachment draft.png")).to_be_visible()
    page.get_by_role("textbox", name="Message").fill("still writing")
    page.context.set_offline(False)
    # IndexedDB commits asynchronously; no person reloads within a few milliseconds of typing.
    page.wait_for_timeout(300)

    page.reload()
    expect(page.get_by_role("textbox", name="Message")).to_be_enabled(timeout=60_000)
    expect(page.get_by_role("textbox", name="Message")).to_have_value("still writing")
    expect(page.get_by_role("group", name="Attachment draft.png")).to_be_visible()
    failed = log.locator("article.failed")
    expect(failed).to_contain_text("the quote you asked for")
    expect(failed.get_by_role("alert")).to_contain_text("not sent before the page was closed")
    log.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").get_by_role("link", name=re.compile("quote.pdf"))).to_be_visible()
    page.get_by_role("button", name="Send").click()
    expect(log.locator("article:not(.pending)").get_by_role("img", name="draft.png")).to_be_visible()
    texts = [m["text"] for m in Api(reference_server.url).history(conversation)]
    assert texts == ["the quote you asked for", "still writing"]

    page.reload()
    expect(page.get_by_role("textbox", name="Message")).to_be_enabled(timeout=60_000)
    expect(log.locator("article.pending")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")


def test_a_page_that_cannot_reach_the_api_at_first_says_so_and_recovers(browser, reference_server, offsite_guard, conversation):
    context = browser.new_context()
    page = context.new_page()
    offsite_guard.watch(page)
    failures = {"left": 2}

    def flaky_history(route):
        if failures["left"]:
            failures["left"] -= 1
            route.abort("connectionrefused")
        else:
            route.continue_()

    page.route("**/api/conversations/*/messages", flaky_history)
    Api(reference_server.url).send(conversation, text="waiting for you")
    page.goto(f"{reference_server.url}/?conversation={conversation}")
    expect(page.get_by_role("alert")).to_contain_text("Could not reach the server", timeout=60_000)
    expect(page.get_by_role("textbox", name="Message")).to_be_enabled(timeout=15_000)
    expect(page.get_by_role("log", name="Conversation")).to_contain_text("waiting for you")
    expect(page.get_by_role("alert")).to_have_count(0)
    context.close()


def test_a_refused_token_at_start_up_is_named_and_not_retried(browser, reference_server, offsite_guard, conversation):
    """A 401 will not heal by waiting: say what it is, and stop asking."""
    context = browser.new_context()
    page = context.new_page()
    offsite_guard.watch(page)
    config = {"backend": {"adapter": "reference", "base_url": "", "conversation": conversation,
                          "identities": {"agent": {"token": "revoked-token", "name": "Agent"}}}}
    page.route("**/attache-config.json", lambda route: route.fulfill(content_type="application/json", body=json.dumps(config)))
    api_calls = []
    page.on("request", lambda r: api_calls.append(r.url) if "/api/restrictions" in r.url else None)
    page.goto(f"{reference_server.url}/?conversation={conversation}")
    expect(page.get_by_role("alert")).to_contain_text("not authorised", timeout=60_000)
    expect(page.get_by_role("status")).to_have_text("Not authorised")
    page.wait_for_timeout(2500)  # the old page asked again after 1 s and 2 s
    assert len(api_calls) == 1
    expect(page.get_by_role("textbox", name="Message")).to_be_disabled()
    context.close()
