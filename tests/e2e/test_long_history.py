"""Long conversations (issue 10, section 3): the newest page at once, older pages as the agent scrolls up
without the view jumping, only what is near in the DOM, server thumbnails, times in the reader's zone."""
from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import expect

from app.core.backoff import POLICY
from tests.e2e.api import Api
from tests.e2e.conftest import next_frame
from tools.seed import seed

PAGE = 100  # the server's default page


def seeded(reference_server, conversation: str, count: int, **kw) -> list[int]:
    return seed(reference_server.data / "attache.sqlite3", conversation, count, **kw)


def text(i: int) -> str:
    return f"Message {i:05d}"


def in_dom(page) -> int:
    return page.evaluate("document.querySelectorAll('#history article.msg').length")


def scroll_up_until_visible(page, log, target, steps: int = 200) -> None:
    """The agent's wheel, a screen at a time, until `target` is in view (each step waits for layout)."""
    log.hover()
    for _ in range(steps):
        if target.count() and target.is_visible() and page.evaluate(
                "e => { const r = e.getBoundingClientRect(), h = document.getElementById('history')"
                ".getBoundingClientRect(); return r.bottom > h.top && r.top < h.bottom; }", target.element_handle()):
            return
        page.mouse.wheel(0, -2000)
        next_frame(page)
    raise AssertionError(f"{target} never came into view")


def test_a_long_conversation_opens_at_its_newest_page_only(open_app, reference_server, conversation):
    seeded(reference_server, conversation, 1000)
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_text(text(999))).to_be_in_viewport()
    expect(log.locator("article")).to_have_count(PAGE)        # the newest page: its newest first, then the rest
    expect(log.get_by_text(text(1000 - PAGE))).to_have_count(1)
    expect(log.get_by_text(text(0))).to_have_count(0)
    assert page.evaluate("attacheDiagnostics().history_loaded") == PAGE


def test_an_older_page_arrives_above_without_moving_what_is_read(open_app, reference_server, conversation):
    seeded(reference_server, conversation, 2 * PAGE + 30)
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_text(text(2 * PAGE + 29))).to_be_in_viewport()
    expect(log.locator("article")).to_have_count(PAGE)
    # to the top of the newest page in one move: the next page loads; note where the reader's message is
    before = page.evaluate("""() => {
        const h = document.getElementById('history');
        h.scrollTop = 0;
        const first = h.querySelector('article.msg');
        return {id: first.id, top: first.getBoundingClientRect().top, blocks: h.querySelectorAll('.block').length};
    }""")
    page.wait_for_function("n => document.querySelectorAll('#history .block').length > n", arg=before["blocks"])
    after = page.evaluate("id => document.getElementById(id)?.getBoundingClientRect().top ?? null", before["id"])
    assert after is not None and abs(after - before["top"]) <= 1, (before, after)   # None: it went far away
    assert page.evaluate("document.getElementById('history').scrollTop") > 0


def test_scrolling_up_reaches_the_very_first_message_with_a_flat_dom(open_app, reference_server, conversation):
    seeded(reference_server, conversation, 1000)
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_text(text(999))).to_be_in_viewport()
    scroll_up_until_visible(page, log, log.get_by_text(text(0)))
    expect(log.get_by_text("This is the start of the conversation.")).to_be_visible()
    assert in_dom(page) <= 3 * PAGE                      # not 1,000: far blocks are empty spacers
    assert page.evaluate("attacheDiagnostics().history_loaded") <= 7 * PAGE   # far pages dropped their messages
    # all the way down again: dropped pages come back (fetched again) and the newest is there
    refetched = []
    page.on("request", lambda r: refetched.append(r.url) if "before=" in r.url else None)
    log.hover()
    for _ in range(200):
        if page.evaluate("(() => { const h = document.getElementById('history');"
                         " return h.scrollHeight - h.scrollTop - h.clientHeight < 2; })()"):
            break
        page.mouse.wheel(0, 3000)
        next_frame(page)
    expect(log.get_by_text(text(999))).to_be_in_viewport()
    expect(log.get_by_text(text(500))).to_have_count(0)
    assert in_dom(page) <= 3 * PAGE
    assert refetched, "no page was fetched again on the way down"


def test_an_older_page_that_fails_to_load_says_so_and_loads_on_try_again(open_app, reference_server, conversation):
    seeded(reference_server, conversation, PAGE + 20)
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    asked = []
    page.route("**/messages?before=*", lambda route: (asked.append(route.request.url), route.abort()))
    log.hover()
    page.mouse.wheel(0, -100_000)
    # asked again on its own after 1, 2 and 4 s (app.core.backoff), then said
    expect(log.get_by_text("Earlier messages could not be loaded.")).to_be_visible(timeout=30_000)
    assert len(asked) == 1 + POLICY.retries
    page.unroute("**/messages?before=*")
    log.get_by_role("button", name="Try again").click()
    expect(log.get_by_text(text(0))).to_be_visible()
    expect(log.get_by_text("This is the start of the conversation.")).to_be_visible()
    expect(log.get_by_role("button", name="Try again")).to_be_hidden()


def test_an_older_page_that_fails_once_loads_on_its_own(open_app, reference_server, conversation):
    """A passing fault (a busy machine, a dropped connection) is asked again, not handed to the reader."""
    seeded(reference_server, conversation, PAGE + 20)
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    failed = []

    def fail_once(route) -> None:
        if failed:
            route.continue_()
        else:
            failed.append(route.request.url)
            route.abort()
    page.route("**/messages?before=*", fail_once)
    log.hover()
    page.mouse.wheel(0, -100_000)
    expect(log.get_by_text(text(0))).to_be_visible()
    assert failed
    expect(log.get_by_role("button", name="Try again")).to_be_hidden()


def test_reading_old_pages_is_not_interrupted_and_new_messages_still_arrive(open_app, reference_server, conversation):
    seeded(reference_server, conversation, 3 * PAGE)
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    scroll_up_until_visible(page, log, log.get_by_text(text(0)))
    Api(reference_server.url).send(conversation, text="a new message while you read")
    page.wait_for_function("document.querySelector('#history .block.live') !== null")   # below, maybe a spacer
    expect(log.get_by_text(text(0))).to_be_in_viewport()
    page.get_by_role("textbox", name="Message").fill("my answer")
    page.get_by_role("button", name="Send").click()                  # sending goes back to the newest
    expect(log.locator("article:not(.pending)").filter(has_text="my answer")).to_be_in_viewport()
    expect(log.get_by_text("a new message while you read")).to_be_visible()


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((width, height), 50).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def test_photos_show_the_servers_thumbnail_and_open_the_original(open_app, reference_server, conversation):
    api = Api(reference_server.url)
    api.send(conversation, text="photo", files=[("beach.jpg", jpeg(1600, 1200), "image/jpeg")])
    api.send(conversation, text="broken", files=[("broken.jpg", jpeg(800, 600)[:5000], "image/jpeg")])
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    thumb = log.get_by_role("img", name="beach.jpg")
    expect(thumb).to_have_attribute("src", re.compile(r"/thumbnails/[0-9a-f]{64}\?"))
    expect(thumb).to_have_attribute("width", "320")
    page.wait_for_function("[...document.images].some(i => i.alt === 'beach.jpg' && i.naturalWidth === 480)")
    with page.expect_popup() as popup:
        log.get_by_role("link", name=re.compile("beach.jpg")).click()
    assert "/media/" in popup.value.url and "beach.jpg" in popup.value.url
    # the image the server could not read is kept and offered as a file
    expect(log.get_by_role("img", name="broken.jpg")).to_have_count(0)
    expect(log.get_by_role("link", name=re.compile("broken.jpg"))).to_be_visible()


def test_each_time_is_shown_in_the_readers_zone_of_its_own_day(open_app, reference_server, conversation):
    """Paris: a summer message at 12:00 UTC was 14:00 on the wall clock, a winter one 13:00."""
    times = {0: "2026-07-01T12:00:00Z", 1: "2026-01-15T12:00:00Z"}
    seeded(reference_server, conversation, 2, created_at=lambda i: times[i], text=lambda i: f"sent {i}")
    page = open_app("agent", timezone_id="Europe/Paris")
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article").filter(has_text="sent 0").locator("time")).to_have_text(re.compile(r"Jul( \d{4})? 14:00$"))
    expect(log.locator("article").filter(has_text="sent 1").locator("time")).to_have_text(re.compile(r"Jan( \d{4})? 13:00$"))
