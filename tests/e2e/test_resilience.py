"""Faults a real deployment meets: a server restart, a cancelled upload, a reload mid-upload."""
from __future__ import annotations

import json
import os
import re

import httpx
from playwright.sync_api import expect

from tests import files
from tests.e2e.api import Api, bearer
from tests.e2e.conftest import wait_ready
from tests.e2e.holds import PatchHold, release, wait_for
from tests.e2e.test_canvas import attach
from tests.e2e.unsent import wait_kept

TUS = {"Tus-Resumable": "1.0.0"}
# Every PATCH body the page hands to fetch after this script runs (it runs again on each load): [Upload-Offset, bytes].
COUNT_PATCH_BYTES = """
window.__patches = [];
const pageFetch = window.fetch;
window.fetch = function (url, init) {
  if (init && init.method === 'PATCH' && init.body instanceof Blob) {
    window.__patches.push([Number(init.headers['Upload-Offset']), init.body.size]);
  }
  return pageFetch.apply(this, arguments);
};
"""


def upload_offset(url: str) -> int | None:
    """The server's Upload-Offset for an upload URL; None once it is gone."""
    base = url.split("/api/", 1)[0]
    answer = httpx.head(url, headers={**TUS, **bearer(base)})
    return int(answer.headers["upload-offset"]) if answer.status_code == 200 else None


def test_server_restart_loses_nothing_and_the_page_reconnects(open_app, make_server, tmp_path):
    server = make_server(config_text=None)
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
    wait_ready(page, 60_000)
    expect(log.locator("article")).to_have_count(3)
    image = log.get_by_role("img", name="before.png")
    expect(image).to_be_visible()
    page.wait_for_function("[...document.images].some(i => i.alt === 'before.png' && i.naturalWidth > 0)")


def test_a_cancelled_upload_can_be_retried(open_app, reference_server, conversation, tmp_path):
    page = open_app("agent")
    creations = []
    page.on("request", lambda r: creations.append(r.url) if r.method == "POST" and r.url.endswith("/api/uploads") else None)
    chunks = PatchHold(page)
    attach(page, files.sized(tmp_path, "large.pdf", 10_000_000, files.PDF))
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_role("progressbar", name="Upload progress")).to_be_visible()
    wait_for(page, lambda: chunks.urls, "the upload created and its first PATCH held")   # else nothing to go on with
    log.get_by_role("button", name="Cancel").click()
    expect(log.get_by_role("alert")).to_contain_text("cancelled")
    chunks.end()
    log.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").get_by_role("link", name=re.compile("large.pdf"))).to_be_visible(timeout=30_000)
    assert len(Api(reference_server.url).history(conversation)) == 1
    assert len(creations) == 1  # Retry went on with the same upload, not a new one


class CreationHold:
    """The page's upload creations (POST /api/uploads) are held until `let_through()`; the uploads the
    server created are noted from the answers' Location."""

    def __init__(self, page) -> None:
        self.held: list = []
        self.created: list[str] = []
        page.route("**/api/uploads", lambda route: self.held.append(route) if route.request.method == "POST"
                   else route.continue_())
        page.on("response", lambda r: self.created.append(r.headers["location"].rsplit("/", 1)[-1])
                if r.request.method == "POST" and r.url.endswith("/api/uploads") and r.status == 201 else None)

    def let_through(self) -> None:
        for route in self.held:
            route.continue_()


def cancel_while_created(page, tmp_path, text: str) -> CreationHold:
    """Send a file and press Cancel while its upload's creation is held on its way."""
    creations = CreationHold(page)
    attach(page, files.sized(tmp_path, "large.pdf", 3_000_000, files.PDF))
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send").click()
    wait_for(page, lambda: creations.held, "the upload's creation")
    log = page.get_by_role("log", name="Conversation")
    log.get_by_role("button", name="Cancel").click()
    expect(log.get_by_role("alert")).to_contain_text("cancelled")
    return creations


def test_an_upload_created_after_a_cancel_is_the_one_retry_goes_on_with(open_app, reference_server, conversation,
                                                                        tmp_path):
    """Cancel cannot abort a creation without the server keeping an upload nobody knows (it counts against
    the agent's open uploads for a day): the page lets it answer and keeps the upload for Retry."""
    page = open_app("agent")
    creations = cancel_while_created(page, tmp_path, "cancelled while created")
    creations.let_through()
    wait_for(page, lambda: creations.created, "the page to get the creation's answer (a Cancel must not abort it)")
    [created] = creations.created
    wait_kept(page, "cancelled while created", created)                 # the unsent message knows its upload
    log = page.get_by_role("log", name="Conversation")
    log.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").get_by_role("link", name=re.compile("large.pdf"))).to_be_visible(timeout=30_000)
    [message] = Api(reference_server.url).history(conversation)
    assert message["attachments"][0]["id"] == created
    assert len(creations.created) == 1                                 # Retry made no second upload


def test_retry_before_the_cancelled_creation_answers_goes_on_with_its_upload(open_app, reference_server,
                                                                             conversation, tmp_path):
    """Retry's creation carries the same key: both name one upload, which is neither doubled nor freed."""
    page = open_app("agent")
    deletes: list[str] = []
    page.on("request", lambda r: deletes.append(r.url) if r.method == "DELETE" else None)
    creations = cancel_while_created(page, tmp_path, "retried before the answer")
    log = page.get_by_role("log", name="Conversation")
    log.get_by_role("button", name="Retry").click()
    wait_for(page, lambda: len(creations.held) == 2, "Retry's creation")
    creations.let_through()
    expect(log.locator("article:not(.pending)").get_by_role("link", name=re.compile("large.pdf"))).to_be_visible(timeout=30_000)
    [message] = Api(reference_server.url).history(conversation)
    assert creations.created == [message["attachments"][0]["id"]] * 2 and deletes == []


def test_an_upload_created_after_its_file_was_removed_is_freed(open_app, reference_server, tmp_path):
    page = open_app("agent")
    creations = cancel_while_created(page, tmp_path, "its file removed meanwhile")
    log = page.get_by_role("log", name="Conversation")
    log.get_by_role("button", name="Remove attachment").click()
    expect(log.get_by_role("button", name="Remove attachment")).to_have_count(0)
    with page.expect_request(lambda r: r.method == "DELETE"):
        creations.let_through()
        wait_for(page, lambda: creations.created, "the page to get the creation's answer (a Cancel must not abort it)")
    url = f"{reference_server.url}/api/uploads/{creations.created[0]}"
    wait_for(page, lambda: upload_offset(url) is None, "the upload to be terminated")
    expect(log.locator("article")).to_have_count(1)                     # the text stays, ready to send


def test_a_creation_whose_answer_was_lost_is_not_made_twice(open_app, reference_server, conversation, tmp_path):
    """The server made the upload, the answer never came back: the page asks again with the same creation
    key and goes on with that upload, instead of leaving it behind (counted against the agent's open
    uploads for a day)."""
    page = open_app("agent")
    lost: list[str] = []

    def lose_the_first_answer(route):
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().headers["location"].rsplit("/", 1)[-1])    # reached the server...
            route.abort()                                                        # ...the answer did not
        else:
            route.continue_()

    page.route("**/api/uploads", lose_the_first_answer)
    attach(page, files.sized(tmp_path, "large.pdf", 3_000_000, files.PDF))
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article:not(.pending)").get_by_role("link", name=re.compile("large.pdf"))).to_be_visible(timeout=30_000)
    [message] = Api(reference_server.url).history(conversation)
    assert lost and message["attachments"][0]["id"] == lost[0]


def test_after_a_reload_retry_sends_only_the_bytes_the_server_lacks(open_app, reference_server, conversation, tmp_path):
    """The upload's URL and offset are kept with the unsent message; the new page resumes there."""
    page = open_app("agent")
    data = files.PDF + os.urandom(12_000_000)
    held, urls = [], []

    def hold_the_second_chunk(route):
        if route.request.method == "PATCH" and not held:
            urls.append(route.request.url)
            if len(urls) == 2:  # the first chunk arrives; the rest is in flight when the page goes
                held.append(route)
                return
        route.continue_()

    page.route("**/api/uploads/*", hold_the_second_chunk)
    attach(page, files.write(tmp_path, "big.pdf", data))
    page.get_by_role("textbox", name="Message").fill("sent across a reload")
    page.get_by_role("button", name="Send").click()
    wait_for(page, lambda: held, "the second chunk")
    before = upload_offset(urls[0])
    assert before is not None and 0 < before < len(data)
    page.context.add_init_script(COUNT_PATCH_BYTES)
    wait_kept(page, "sent across a reload", urls[0].rsplit("/", 1)[-1])   # the message and its upload's URL

    page.reload()  # the held chunk never reaches the server
    release(held)
    wait_ready(page, 60_000)
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article.failed").get_by_role("alert")).to_contain_text("not sent before the page was closed")
    log.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").get_by_role("link", name=re.compile("big.pdf"))).to_be_visible(timeout=30_000)

    patches = page.evaluate("window.__patches")
    assert patches and patches[0][0] == before, patches  # it went on from the server's offset
    assert sum(size for _, size in patches) == len(data) - before  # only the remainder went over the wire
    [message] = Api(reference_server.url).history(conversation)
    assert message["attachments"][0]["id"] == urls[0].rsplit("/", 1)[-1]  # the same upload, finished
    assert httpx.get(reference_server.url + message["attachments"][0]["url"]).content == data


def test_removing_the_file_of_a_failed_message_ends_its_upload_on_the_server(open_app, tmp_path):
    page = open_app("agent")
    chunks = PatchHold(page)
    attach(page, files.sized(tmp_path, "large.pdf", 10_000_000, files.PDF))
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    wait_for(page, lambda: chunks.urls, "the upload created and its first PATCH held")   # else there is none to end
    log.get_by_role("button", name="Cancel").click()
    expect(log.get_by_role("alert")).to_contain_text("cancelled")
    chunks.end()
    urls = chunks.urls
    assert upload_offset(urls[0]) == 0  # created, nothing stored yet
    with page.expect_request(lambda r: r.method == "DELETE" and r.url == urls[0]):
        log.get_by_role("button", name="Remove attachment").click()
    expect(log.locator("article")).to_have_count(0)
    wait_for(page, lambda: upload_offset(urls[0]) is None, "the upload to be terminated")


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
    wait_kept(page, "still writing", "draft.png")

    page.reload()
    wait_ready(page, 60_000)
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
    wait_ready(page, 60_000)
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
    wait_ready(page, 15_000)
    expect(page.get_by_role("log", name="Conversation")).to_contain_text("waiting for you")
    expect(page.get_by_role("alert")).to_have_count(0)
    context.close()


def test_a_refused_token_at_start_up_asks_to_sign_in_and_waits_for_try_again(browser, reference_server, offsite_guard,
                                                                              conversation):
    """A 401 will not heal by waiting: "Sign in again", and no more asking until Try again."""
    context = browser.new_context()
    page = context.new_page()
    offsite_guard.watch(page)
    config = {"backend": {"adapter": "reference", "base_url": "", "conversation": conversation,
                          "identities": {"agent": {"token": "revoked-token", "name": "Agent"}}}}
    page.route("**/attache-config.json", lambda route: route.fulfill(content_type="application/json", body=json.dumps(config)))
    api_calls = []
    page.on("request", lambda r: api_calls.append(r.url) if "/restrictions" in r.url else None)
    page.goto(f"{reference_server.url}/?conversation={conversation}")
    notice = page.get_by_role("alert").filter(has_text="Sign in again")
    expect(notice).to_contain_text("did not accept your access token", timeout=60_000)
    expect(page.get_by_role("status")).to_have_text("Signed out")
    page.wait_for_timeout(2500)  # the subject, not a synchronisation: the old page asked again after 1 s and 2 s
    assert len(api_calls) == 1
    expect(page.get_by_role("textbox", name="Message")).to_be_disabled()
    with page.expect_request(lambda r: "/restrictions" in r.url):  # the same token: asked once more ...
        notice.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("status")).to_have_text("Signed out")  # ... and refused again
    expect(notice).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_be_disabled()
    assert len(api_calls) == 2
    context.close()
