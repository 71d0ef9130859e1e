"""The page on a real Synapse, in Chromium: Attache's server in `[backend] kind = "matrix"`
mode serves the page, and the page talks to the homeserver directly.

The room is shared by the session's tests (and the adapter's): each test finds its
own messages by a unique word, so the order tests run in does not matter. Other
Matrix clients are played with the plain client-server API (httpx), as Element would.
"""
from __future__ import annotations

import json
import re
import uuid
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests import files
from tools.services.attache import RunningServer
from tests.e2e.conftest import READY_TIMEOUT_MS
from tests.matrix.conftest import attache_config
from tools.services.synapse import SERVER_NAME, create_room
from tools.waiting import page_pause, wait_until

SYNC = re.compile(r"/_matrix/client/v3/sync\b")
SEND = re.compile(r"/send/m\.room\.message/")
UPLOAD = "/_matrix/media/v3/upload"


@pytest.fixture
def open_page(browser, attache, offsite_guard):
    """open_page(identity) -> a ready Page (`ready`: wait for the composer, `live`: for the /sync
    feed); `routes(context)` is called before the page loads."""
    contexts = []

    def open_(identity: str = "agent", server: RunningServer | None = None, live: bool = True,
              routes=None, ready: bool = True) -> Page:
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        contexts.append(context)
        if routes is not None:
            routes(context)
        page = context.new_page()
        offsite_guard.watch(page)
        page.on("console", lambda m: print(f"[{identity} console.{m.type}] {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: print(f"[{identity} pageerror] {e}"))
        page.goto(f"{(server or attache).url}/?as={identity}")
        if not ready:
            return page
        expect(page.get_by_role("textbox", name="Message")).to_be_enabled(timeout=READY_TIMEOUT_MS)
        if live:
            expect(page.locator("#connection")).to_have_text("Live", timeout=30_000)
        return page

    yield open_
    for context in contexts:
        context.close()


def word() -> str:
    return uuid.uuid4().hex[:8]


def attach(page: Page, path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    chooser.value.set_files(str(path))


def delivered(page: Page, text: str):
    return page.get_by_role("log", name="Conversation").locator("article:not(.pending)", has_text=text)


def delivered_file(page: Page, name: str):
    """The delivered message carrying the file `name` (a thumbnail has no text: found by its link)."""
    link = page.get_by_role("link", name=re.compile(re.escape(name)))
    return page.get_by_role("log", name="Conversation").locator("article:not(.pending)").filter(has=link)


# ---- another Matrix client, over the plain client-server API --------------------------------
def room_path(hs) -> str:
    return f"/_matrix/client/v3/rooms/{quote(hs.room_id, safe='')}"


def post(hs, user: str, content: dict, event_type: str = "m.room.message") -> str:
    with hs.server.client(hs.users[user]) as client:
        answer = client.put(f"{room_path(hs)}/send/{event_type}/{uuid.uuid4().hex}", json=content)
        answer.raise_for_status()
        return answer.json()["event_id"]


def upload(hs, user: str, data: bytes, content_type: str) -> str:
    """Element uploads without a filename parameter."""
    with hs.server.client(hs.users[user]) as client:
        answer = client.post("/_matrix/media/v3/upload", content=data, headers={"Content-Type": content_type})
        answer.raise_for_status()
        return answer.json()["content_uri"]


def room_events(hs, needle: str, limit: int = 100) -> list[dict]:
    """The room's recent m.room.message events whose body contains `needle` (as the agent reads them)."""
    with hs.server.client(hs.users["agent"]) as client:
        answer = client.get(f"{room_path(hs)}/messages", params={"dir": "b", "limit": limit})
        answer.raise_for_status()
    return [e for e in answer.json()["chunk"]
            if e["type"] == "m.room.message" and needle in e["content"].get("body", "")]


SCROLL_TO = """async (where) => {
  const h = document.getElementById('history');
  const start = h.querySelector('#history-start');
  const done = () => where === 'start'
      ? !start.hidden && start.textContent.includes('start of the conversation') && h.scrollTop === 0
      : h.scrollHeight - h.scrollTop - h.clientHeight < 2 && !h.querySelector('.block:last-of-type:empty');
  for (let i = 0; i < 3000 && !done(); i++) {
    h.scrollTop = where === 'start' ? 0 : h.scrollHeight;   // the reader scrolls, block by block
    await new Promise(resolve => setTimeout(resolve, 20));
  }
  return done();
}"""


def blob_alive(page: Page, url: str) -> bool:
    """Does `url` still load as an image? (A revoked blob: URL does not; the page's CSP lets
    <img> load blob: URLs, not fetch them.)"""
    return page.evaluate("""url => new Promise(resolve => {
      const image = new Image();
      image.onload = () => resolve(true);
      image.onerror = () => resolve(false);
      image.src = url;
    })""", url)


def shown_blob(page: Page, image) -> str:
    """The blob: URL an <img> shows, once the image has decoded."""
    expect(image).to_have_attribute("src", re.compile(r"^blob:"), timeout=20_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    return image.get_attribute("src")


# ---- tests --------------------------------------------------------------------------------
def test_agent_and_customer_send_files_both_ways(open_page, homeserver, tmp_path):
    w = word()
    agent, customer = open_page("agent"), open_page("customer")
    expect(agent.locator("#restrictions-hint")).to_have_text("Up to 2.1 MB · images, PDF, text, Word documents")

    attach(agent, files.write(tmp_path, f"photo-{w}.png", files.png_bytes(64, 48)))
    agent.get_by_role("textbox", name="Message").fill(f"the photo {w}")
    agent.get_by_role("button", name="Send").click()
    expect(delivered(agent, f"the photo {w}")).to_have_count(1)
    expect(delivered(agent, f"the photo {w}").locator(".meta")).to_contain_text("You")
    seen = delivered(customer, f"the photo {w}")
    expect(seen).to_have_count(1)
    shown_blob(customer, seen.get_by_role("img", name=f"photo-{w}.png"))
    with customer.context.expect_page() as opened:  # a raster image opens in a new tab, as a blob:
        seen.get_by_role("link", name=f"photo-{w}.png").click()
    tab = opened.value
    tab.wait_for_url(re.compile(r"^blob:"))
    assert tab.evaluate("document.contentType") == "image/png"

    attach(customer, files.write(tmp_path, f"statement-{w}.pdf", files.PDF))
    customer.get_by_role("button", name="Send").click()
    card = agent.get_by_role("log", name="Conversation").get_by_role("link", name=re.compile(f"statement-{w}.pdf"))
    expect(card).to_contain_text("PDF document")

    (image,) = room_events(homeserver, f"the photo {w}")
    assert image["sender"] == homeserver.users["agent"].user_id
    content = image["content"]
    assert (content["msgtype"], content["body"], content["filename"]) == ("m.image", f"the photo {w}", f"photo-{w}.png")
    assert content["info"] == {"mimetype": "image/png", "size": len(files.png_bytes(64, 48)), "w": 64, "h": 48}
    assert content["url"].startswith("mxc://")
    (pdf,) = room_events(homeserver, f"statement-{w}.pdf")
    assert (pdf["content"]["msgtype"], pdf["content"]["info"]["mimetype"]) == ("m.file", "application/pdf")
    assert pdf["sender"] == homeserver.users["customer"].user_id


def test_files_from_other_clients_show_live_open_safely_or_download(open_page, homeserver):
    w = word()
    page = open_page("agent")
    png = files.png_bytes(40, 30)
    post(homeserver, "element", {"msgtype": "m.image", "body": f"screenshot-{w}.png",  # Element: no filename
                                 "url": upload(homeserver, "element", png, "image/png"),
                                 "info": {"mimetype": "image/png", "size": len(png), "w": 40, "h": 30}})
    message = delivered_file(page, f"screenshot-{w}.png")
    expect(message.locator(".meta")).to_contain_text("Elena <from Element>")
    shown_blob(page, message.get_by_role("img", name=f"screenshot-{w}.png"))

    svg = files.SVG_WITH_SCRIPT
    post(homeserver, "element", {"msgtype": "m.file", "body": f"diagram-{w}.svg",
                                 "url": upload(homeserver, "element", svg, "image/svg+xml"),
                                 "info": {"mimetype": "image/svg+xml", "size": len(svg)}})
    lying = b"<!doctype html><script>alert('ran')</script>"
    post(homeserver, "element", {"msgtype": "m.file", "body": f"notes-{w}.txt",
                                 "url": upload(homeserver, "element", lying, "text/plain"),
                                 "info": {"mimetype": "text/plain", "size": len(lying)}})
    for name, data in ((f"diagram-{w}.svg", svg), (f"notes-{w}.txt", lying)):
        link = delivered_file(page, name).get_by_role("link", name=re.compile(re.escape(name)))
        with page.expect_download() as got:  # never opened in place: SVG and HTML run script
            link.click()
        download = got.value
        assert download.url.startswith("blob:") and download.suggested_filename == name
        assert open(download.path(), "rb").read() == data
    # no tab stays open for them: the .txt's tab, opened at the click (a popup blocker would refuse it after
    # the fetch), is closed once its bytes sniff as HTML, and Chromium closes it a moment after the download
    wait_until(lambda: len(page.context.pages) == 1, "only the canvas's tab left open", pause=page_pause(page))
    assert page.evaluate("window.attacheDiagnostics().media_urls") >= 1


def test_too_large_for_the_homeserver_is_refused_before_upload(open_page, tmp_path):
    w = word()
    page = open_page("agent")
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if UPLOAD in r.url else None)
    attach(page, files.sized(tmp_path, f"big-{w}.png", 3 * 2**20, files.png_bytes()))
    expect(page.get_by_role("alert")).to_contain_text(f"big-{w}.png is 3.1 MB; the limit is 2.1 MB")
    expect(page.locator("#staged .staged-file")).to_have_count(0)
    assert uploads == []

    # Should the homeserver refuse anyway (its limit changed since the page loaded): the same notice, in its words.
    page.route(f"**{UPLOAD}**", lambda route: route.fulfill(status=413, content_type="application/json", body=json.dumps(
        {"errcode": "M_TOO_LARGE", "error": "Upload request body is too large"})))
    attach(page, files.write(tmp_path, f"small-{w}.png", files.png_bytes()))
    page.get_by_role("button", name="Send").click()
    pending = page.locator("article.pending.failed")
    expect(pending).to_contain_text(f"small-{w}.png is")
    expect(pending).to_contain_text("the homeserver accepts files up to 2.1 MB")


def test_a_revoked_token_asks_to_sign_in_again_and_keeps_the_draft(open_page, homeserver, tmp_path):
    w = word()
    device = homeserver.server.login("customer", device=f"REVOKE{w}")
    config = tmp_path / "attache.toml"
    config.write_text(attache_config(homeserver, {"customer": device.token}, room=homeserver.room_id))
    server = RunningServer(tmp_path / "data", config).start()
    try:
        page = open_page("customer", server=server)
        box = page.get_by_role("textbox", name="Message")
        with homeserver.server.client(device) as client:
            client.post("/_matrix/client/v3/logout").raise_for_status()
        box.fill(f"written after sign-out {w}")
        page.get_by_role("button", name="Send").click()
        notice = page.get_by_role("alert").filter(has=page.get_by_role("button", name="Try again"))
        expect(notice).to_contain_text("Sign in again")  # the page's one sign-in notice
        expect(page.locator("#connection")).to_have_text("Signed out")
        failed = page.locator("article.pending.failed", has_text=f"written after sign-out {w}")
        expect(failed.get_by_role("button", name="Retry")).to_be_visible()
        with page.expect_request(SYNC):  # Try again tries the live feed again: the token is still refused
            notice.get_by_role("button", name="Try again").click()
        expect(notice).to_contain_text("Sign in again")
        expect(page.locator("#connection")).to_have_text("Signed out")
        box.fill(f"a draft to keep {w}")

        again = homeserver.server.login("customer", device=f"AGAIN{w}")  # signing in again: a new token
        config.write_text(attache_config(homeserver, {"customer": again.token}, room=homeserver.room_id))
        server.restart()
        page.reload()
        expect(box).to_have_value(f"a draft to keep {w}", timeout=READY_TIMEOUT_MS)
        failed.get_by_role("button", name="Retry").click()
        expect(delivered(page, f"written after sign-out {w}")).to_have_count(1)
        assert len(room_events(homeserver, f"written after sign-out {w}")) == 1
    finally:
        server.stop()


def test_a_message_whose_answer_was_lost_is_retried_and_appears_once(open_page, homeserver):
    w, lost = word(), []

    def routes(context):
        context.route(SYNC, lambda route: route.abort())  # no live echo: only Retry can deliver it

        def send(route):
            if not lost:  # the homeserver gets the first PUT; its answer never reaches the page
                lost.append(route.fetch().status)
                route.abort()
            else:
                route.continue_()
        context.route(SEND, send)

    page = open_page("agent", live=False, routes=routes)
    page.get_by_role("textbox", name="Message").fill(f"answer lost {w}")
    page.get_by_role("button", name="Send").click()
    failed = page.locator("article.pending.failed", has_text=f"answer lost {w}")
    failed.get_by_role("button", name="Retry").click()
    expect(delivered(page, f"answer lost {w}")).to_have_count(1)
    expect(page.locator("article.pending")).to_have_count(0)
    assert lost == [200]
    assert len(room_events(homeserver, f"answer lost {w}")) == 1  # the same transaction id: one event

    page.context.unroute(SYNC)
    page.reload()
    expect(page.locator("#connection")).to_have_text("Live", timeout=READY_TIMEOUT_MS)
    expect(delivered(page, f"answer lost {w}")).to_have_count(1)
    expect(page.locator("article.pending")).to_have_count(0)


def test_a_rate_limited_send_waits_and_continues(open_page, homeserver):
    w, answers = word(), []

    def send(route):
        answers.append(route.request.url)
        if len(answers) == 1:
            route.fulfill(status=429, content_type="application/json", body=json.dumps(
                {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 800}))
        else:
            route.continue_()

    page = open_page("agent", routes=lambda context: context.route(SEND, send))
    page.get_by_role("textbox", name="Message").fill(f"slow down {w}")
    page.get_by_role("button", name="Send").click()
    expect(delivered(page, f"slow down {w}")).to_have_count(1)
    assert len(answers) == 2 and answers[0] == answers[1]  # asked again with the same transaction id
    assert len(room_events(homeserver, f"slow down {w}")) == 1


def test_the_live_feed_resumes_after_a_network_fault(open_page, homeserver):
    w = word()
    page = open_page("agent")
    page.context.route(SYNC, lambda route: route.abort())  # the next polls fail ...
    post(homeserver, "element", {"msgtype": "m.text", "body": f"nudge {w}"})  # ... once this ends the one in flight
    # (unless Synapse already answered that one from its cache of another page's same poll: then at once)
    expect(page.locator("#connection")).to_have_text(re.compile("Reconnecting"), timeout=60_000)
    post(homeserver, "element", {"msgtype": "m.text", "body": f"while offline {w}"})
    page.context.unroute(SYNC)
    expect(delivered(page, f"while offline {w}")).to_have_count(1, timeout=60_000)  # from the same since
    expect(delivered(page, f"nudge {w}")).to_have_count(1)
    expect(page.locator("#connection")).to_have_text("Live")


def test_unsupported_events_edits_and_deletions(open_page, homeserver):
    w = word()
    page = open_page("agent")
    png = files.png_bytes(20, 20)
    post(homeserver, "element", {"body": f"cat sticker {w}", "url": upload(homeserver, "element", png, "image/png"),
                                 "info": {"mimetype": "image/png", "size": len(png)}}, "m.sticker")
    post(homeserver, "element", {"msgtype": "m.location", "body": f"here {w}", "geo_uri": "geo:51.5,0.1"})
    notes = page.locator("article.note[data-kind='unsupported']")
    expect(notes.filter(has_text="A sticker — not supported here.")).not_to_have_count(0)
    expect(notes.filter(has_text="A location — not supported here.")).not_to_have_count(0)

    typo = post(homeserver, "element", {"msgtype": "m.text", "body": f"helo {w}"})
    expect(delivered(page, f"helo {w}")).to_have_count(1)
    edit = {"msgtype": "m.text", "body": "* x", "m.relates_to": {"rel_type": "m.replace", "event_id": typo}}
    post(homeserver, "customer", {**edit, "m.new_content": {"msgtype": "m.text", "body": f"hijacked {w}"}})
    post(homeserver, "element", {"msgtype": "m.text", "body": f"marker {w}"})
    expect(delivered(page, f"marker {w}")).to_have_count(1)
    expect(delivered(page, f"hijacked {w}")).to_have_count(0)  # only the sender may edit
    post(homeserver, "element", {**edit, "m.new_content": {"msgtype": "m.text", "body": f"hello {w}"}})
    expect(delivered(page, f"hello {w}")).to_have_count(1)
    expect(delivered(page, f"helo {w}")).to_have_count(0)

    doomed = post(homeserver, "element", {"msgtype": "m.image", "body": f"doomed-{w}.png",
                                          "url": upload(homeserver, "element", png, "image/png"),
                                          "info": {"mimetype": "image/png", "size": len(png)}})
    url = shown_blob(page, delivered_file(page, f"doomed-{w}.png").get_by_role("img"))
    assert blob_alive(page, url)
    with homeserver.server.client(homeserver.users["element"]) as client:
        client.put(f"{room_path(homeserver)}/redact/{quote(doomed, safe='')}/{uuid.uuid4().hex}",
                   json={}).raise_for_status()
    expect(page.locator(f'article[id="msg-{doomed}"][data-kind="deleted"]')).to_contain_text("This message was deleted.")
    expect(delivered_file(page, f"doomed-{w}.png")).to_have_count(0)
    assert not blob_alive(page, url)


def test_someone_not_in_the_room_is_told_so(open_page):
    page = open_page("admin", ready=False)  # a user of the homeserver who was never invited
    expect(page.get_by_role("alert")).to_contain_text("You are not a member of this Matrix room",
                                                      timeout=READY_TIMEOUT_MS)
    expect(page.locator("#connection")).to_have_text("Not in the room")
    expect(page.get_by_role("textbox", name="Message")).to_be_disabled()


def test_a_long_room_pages_through_the_virtualised_history_and_its_media_follow(open_page, homeserver, tmp_path):
    """Older /messages pages go through the reference history's Timeline/BlockWindow: a block far from
    the screen is emptied (its blob: thumbnails revoked) and drawn again when it comes back (fetched
    again); an edit of a message in an older page is drawn in place."""
    w = word()
    room = create_room(homeserver.server, homeserver.users, f"#long-{w}:{SERVER_NAME}", ("element",))
    png = files.png_bytes(64, 48)
    uri = upload(homeserver, "element", png, "image/png")
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/send/m.room.message/"
    ids = []
    with homeserver.server.client(homeserver.users["element"]) as client:
        for i in range(160):
            content = ({"msgtype": "m.image", "body": f"photo-{i}.png", "url": uri,
                        "info": {"mimetype": "image/png", "size": len(png), "w": 64, "h": 48}}
                       if i % 20 == 19 else {"msgtype": "m.text", "body": f"{w} line {i:03}"})
            answer = client.put(path + uuid.uuid4().hex, json=content)
            answer.raise_for_status()
            ids.append(answer.json()["event_id"])
    config = tmp_path / "attache.toml"
    config.write_text(attache_config(homeserver, {"agent": homeserver.users["agent"].token}, room=room))
    server = RunningServer(tmp_path / "data", config).start()
    try:
        page = open_page("agent", server=server)
        expect(delivered(page, f"{w} line 158")).to_have_count(1)
        newest = shown_blob(page, delivered_file(page, "photo-159.png").get_by_role("img"))
        assert page.evaluate("window.attacheDiagnostics().history_loaded") == 50  # the newest page only

        assert page.evaluate(SCROLL_TO, "start")
        expect(page.get_by_text("This is the start of the conversation.")).to_be_visible()
        expect(delivered(page, f"{w} line 000")).to_have_count(1)
        expect(delivered_file(page, "photo-159.png")).to_have_count(0)  # its block is a spacer now ...
        assert not blob_alive(page, newest)                               # ... and its blob: URL went with it
        blobs = "document.querySelectorAll('#history img[src^=\"blob:\"]').length"
        assert page.evaluate("window.attacheDiagnostics().media_urls") == page.evaluate(blobs)

        # An edit of a message of the oldest page, from another client: drawn again in place.
        edit = {"msgtype": "m.text", "body": "* x", "m.relates_to": {"rel_type": "m.replace", "event_id": ids[0]},
                "m.new_content": {"msgtype": "m.text", "body": f"{w} line zero, edited"}}
        with homeserver.server.client(homeserver.users["element"]) as client:
            client.put(path + uuid.uuid4().hex, json=edit).raise_for_status()
        expect(delivered(page, f"{w} line zero, edited")).to_have_count(1)
        expect(delivered(page, f"{w} line 000")).to_have_count(0)

        assert page.evaluate(SCROLL_TO, "end")  # back down: the newest block is drawn again, its image fetched again
        again = shown_blob(page, delivered_file(page, "photo-159.png").get_by_role("img"))
        assert again != newest and blob_alive(page, again)
        assert page.evaluate("window.attacheDiagnostics().media_urls") == page.evaluate(blobs)
    finally:
        server.stop()
