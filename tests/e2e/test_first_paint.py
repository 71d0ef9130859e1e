"""First paint without Python: the server draws the whole canvas (header, the newest page of
the history, composer) with the page's own templates, and Python takes those very nodes over. Until
Python runs, static/early.mjs lets the agent type and holds every file picked, dropped or
pasted; Python then judges each by the rules and stages it (or names it in a notice).

Python is kept from starting by holding the memory snapshot's request until the test
lets it go, so "before Python" is a fact of the test, not a race."""
from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests import files
from tests.e2e.api import Api
from tests.e2e.conftest import wait_ready
from tests.e2e.test_canvas import attach, drop_file_script
from tests.e2e.test_long_history import PAGE
from tools.seed import seed

SNAPSHOT = re.compile(r"/assets/snapshot\.[0-9a-f]{12}\.bin$")

# At DOMContentLoaded (after the page's module scripts, long before Python): what the
# canvas shows; each message node is marked so the test can tell whether Python kept it.
FIRST_LOOK = """
document.addEventListener('DOMContentLoaded', () => {
  const articles = [...document.querySelectorAll('[role=log] article')];
  articles.forEach(a => { a.fromServer = true; });
  document.querySelectorAll('[role=log] img').forEach(i => { i.fromServer = true; });
  window.firstLook = {
    python: document.documentElement.dataset.pythonStart || null,
    labels: articles.map(a => a.getAttribute('aria-label')),
    texts: articles.map(a => a.textContent),
    heading: document.querySelector('h1').textContent,
    textbox: !document.getElementById('message').disabled,
    send: !document.getElementById('send').disabled,
    busy: document.getElementById('composer').getAttribute('aria-busy'),
    atEnd: (log => log.scrollHeight - log.scrollTop - log.clientHeight < 2)(document.querySelector('[role=log]')),
  };
});
"""
KEPT = "[...document.querySelectorAll('[role=log] article')].map(a => a.fromServer === true)"
KEPT_IMAGES = "[...document.querySelectorAll('[role=log] img')].map(i => i.fromServer === true)"


@pytest.fixture()
def held_page(browser, reference_server, offsite_guard):
    """held_page(url, **context_args) -> (page, release): Python cannot start until release()."""
    contexts = []

    def open_(url: str, **context_args):
        context = browser.new_context(**context_args)
        contexts.append(context)
        context.add_init_script(FIRST_LOOK)
        held = []
        context.route(SNAPSHOT, lambda route: held.append(route))
        page = context.new_page()
        offsite_guard.watch(page)

        def release():
            for route in held:
                route.continue_()
            context.unroute(SNAPSHOT)
            wait_ready(page)

        page.goto(url, wait_until="domcontentloaded")
        return page, release

    yield open_
    for context in contexts:
        context.close()


def python_started(page) -> bool:
    return page.evaluate("document.documentElement.dataset.pythonStart") is not None


@pytest.mark.development_only  # production draws no history: no reader is known before a token
def test_the_history_is_drawn_before_python_and_python_keeps_those_nodes(held_page, reference_server, conversation):
    customer, agent = Api(reference_server.url), Api(reference_server.url, "agent")
    customer.send(conversation, text="first <b>question</b>")
    customer.send(conversation, files=[("photo.png", files.png_bytes(), "image/png")])
    agent.send(conversation, text="our answer")
    page, release = held_page(f"{reference_server.url}/?as=agent&conversation={conversation}", timezone_id="UTC")

    first = page.evaluate("window.firstLook")
    assert first["python"] is None
    assert [label.split(",")[0] for label in first["labels"]] == ["Customer", "Customer", "You"]
    assert "first <b>question</b>" in first["texts"][0]          # drawn as text, escaped by the server
    assert first["heading"] == "Conversation with Customer"
    assert first["textbox"] and not first["send"] and first["busy"] == "true"
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_role("img", name="photo.png")).to_be_visible()
    expect(page.get_by_text("Up to 25 MB")).to_be_visible()        # the rules, from the server too
    assert not python_started(page)

    release()
    expect(log.locator("article")).to_have_count(3)
    assert page.evaluate(KEPT) == [True, True, True]               # taken over, not drawn again
    assert page.evaluate(KEPT_IMAGES) == [True]                    # so the picture is not loaded again
    customer.send(conversation, text="and a live one")
    expect(log.locator("article").last).to_contain_text("and a live one")


@pytest.mark.development_only  # production draws no history: no reader is known before a token
def test_only_the_newest_page_is_in_the_first_html_and_older_pages_load_above(
        held_page, reference_server, conversation):
    seed(reference_server.data / "attache.sqlite3", conversation, PAGE + 5, text=lambda i: f"message {i}")
    page, release = held_page(f"{reference_server.url}/?as=agent&conversation={conversation}", timezone_id="UTC")
    first = page.evaluate("window.firstLook")
    assert len(first["texts"]) == PAGE and "message 5" in first["texts"][0]   # one page, not all of it
    assert first["atEnd"]                                           # the newest in view, as Python keeps it
    release()
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article")).to_have_count(PAGE)
    assert page.evaluate(KEPT) == [True] * PAGE                     # Python's newest page is the server's
    log.evaluate("h => { h.scrollTop = 0; }")                      # up to the top: the older page comes
    expect(log.locator("article")).to_have_count(PAGE + 5)
    expect(log.get_by_text("This is the start of the conversation.")).to_be_visible()
    assert page.evaluate(KEPT) == [False] * 5 + [True] * PAGE


@pytest.mark.development_only  # production draws no history: no reader is known before a token
def test_times_are_on_the_readers_clock_from_the_second_visit_on(held_page, reference_server, conversation):
    sent = Api(reference_server.url).send(conversation, text="what time is it there?")
    created = datetime.fromisoformat(sent["created_at"].replace("Z", "+00:00"))
    utc, kolkata = created.strftime("%H:%M"), (created + timedelta(hours=5, minutes=30)).strftime("%H:%M")
    url = f"{reference_server.url}/?as=agent&conversation={conversation}"
    page, release = held_page(url, timezone_id="Asia/Kolkata")     # UTC+5:30, all year
    assert utc in page.evaluate("window.firstLook")["labels"][0]   # first visit: the server cannot know
    release()
    message = page.get_by_role("log", name="Conversation").locator("article")
    expect(message).to_have_attribute("aria-label", re.compile(re.escape(kolkata)))   # Python corrects it
    assert page.evaluate(KEPT) == [True]                            # in place: the node stays

    page.reload(wait_until="domcontentloaded")                       # the page told the server its zone
    assert kolkata in page.evaluate("window.firstLook")["labels"][0]
    wait_ready(page)
    assert page.evaluate(KEPT) == [True]


def test_a_file_picked_before_python_starts_is_held_then_judged_and_sent(
        held_page, reference_server, conversation, tmp_path):
    page, release = held_page(f"{reference_server.url}/?as=agent&conversation={conversation}")
    attach(page, files.write(tmp_path, "invoice.pdf", files.PDF))
    held = page.get_by_role("group", name="Attachment invoice.pdf")
    expect(held).to_contain_text(f"{len(files.PDF)} bytes · Checking…")
    expect(held).to_have_attribute("aria-busy", "true")
    box = page.get_by_role("textbox", name="Message")
    box.fill("typed before Python")
    box.press("Enter")                                               # nothing is sent before Python
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_disabled()
    assert not python_started(page)

    release()
    staged = page.get_by_role("group", name="Attachment invoice.pdf")
    expect(staged).to_contain_text("PDF")
    expect(staged).not_to_contain_text("Checking")
    expect(staged).not_to_have_attribute("aria-busy", "true")
    expect(box).to_have_value("typed before Python")
    send.click()
    delivered = page.get_by_role("log", name="Conversation").locator("article:not(.pending)")
    expect(delivered.get_by_role("link", name=re.compile("invoice.pdf"))).to_be_visible()
    expect(delivered).to_contain_text("typed before Python")
    [message] = Api(reference_server.url).history(conversation)
    assert message["text"] == "typed before Python" and [a["name"] for a in message["attachments"]] == ["invoice.pdf"]


def test_files_pasted_or_dropped_before_python_are_judged_when_it_starts(
        held_page, reference_server, conversation):
    page, release = held_page(f"{reference_server.url}/?as=agent&conversation={conversation}")
    page.get_by_role("textbox", name="Message").focus()
    page.evaluate("""([b64]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], 'pasted.png', { type: 'image/png' }));
        document.getElementById('message').dispatchEvent(
            new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: dt }));
    }""", [base64.b64encode(files.png_bytes()).decode()])
    expect(page.get_by_role("group", name="Attachment pasted.png")).to_contain_text("Checking…")
    exe = base64.b64encode(files.EXE).decode()
    shown = page.evaluate(drop_file_script("document.getElementById('history')"),
                          ["tool.exe", "application/x-msdownload", exe])
    assert shown, "the drop target was not shown while dragging"
    expect(page.get_by_role("group", name="Attachment tool.exe")).to_contain_text("Checking…")
    expect(page.get_by_role("alert")).to_have_count(0)
    release()
    expect(page.get_by_role("alert").filter(has_text="tool.exe: this type is not accepted")).to_be_visible()
    expect(page.get_by_role("group", name="Attachment tool.exe")).to_have_count(0)
    pasted = page.get_by_role("group", name="Attachment pasted.png")
    expect(pasted).not_to_have_attribute("aria-busy", "true")
    expect(pasted).not_to_contain_text("Checking")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_a_held_file_can_be_removed_before_python_starts(held_page, reference_server, conversation, tmp_path):
    page, release = held_page(f"{reference_server.url}/?as=agent&conversation={conversation}")
    attach(page, files.write(tmp_path, "wrong.pdf", files.PDF))
    page.get_by_role("group", name="Attachment wrong.pdf").get_by_role("button", name="Remove attachment").click()
    expect(page.get_by_role("group", name="Attachment wrong.pdf")).to_have_count(0)
    release()
    expect(page.get_by_role("group", name="Attachment wrong.pdf")).to_have_count(0)
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
