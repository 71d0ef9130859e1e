"""The agent's page on a Twilio-bridged server: files to the customer, the customer's files live, channel limits.

The server runs with `[backend] kind = "twilio"` and reaches Twilio through
Prism, which checks every request against Twilio's own OpenAPI document (the
`contract` fixture fails a test on any violation), and MCS at its stand-in.
Each test makes its own Conversation SID; the page opens `?conversation=CH...`.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError, expect

from tests import files
from tests.e2e.api import Api
from tests.e2e.conftest import READY_TIMEOUT_MS, wait_ready
from tests.twilio.fake import twilio_error
from tests.twilio.rig import ACCOUNT_SID, AUTH_TOKEN, KEY_SECRET, KEY_SID, SERVICE_SID, participants
from tests.twilio.test_webhook import event, media_item, signed

BASIC = "Basic " + base64.b64encode(f"{KEY_SID}:{KEY_SECRET}".encode()).decode()


def attach(page, path):
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    chooser.value.set_files(str(path))


@pytest.fixture
def seen(prism, fake):
    """Every answer the page received from our server, to check none shows Twilio's secrets or hosts."""
    answers = []

    def watch(page):
        """Watch from a fresh start: the page loads again with the watch on."""
        page.on("response", lambda r: answers.append(r) if _api(r.url) else None)
        page.reload()
        wait_ready(page)
        return page

    yield watch
    hidden = [KEY_SECRET, AUTH_TOKEN, ACCOUNT_SID, KEY_SID, SERVICE_SID, "twilio.com", urlsplit(prism.url).netloc,
              urlsplit(fake.mcs_url).netloc, urlsplit(fake.conversations_url).netloc, *fake.media]
    assert answers, "the page made no request to watch"
    for answer in answers:
        tus = "/api/uploads" in answer.url and answer.ok     # tus answers carry headers only
        try:
            body = "" if tus else answer.text()
        except PlaywrightError:    # answered to a document navigated away from (a reload): never shown
            body = ""
        text = body + json.dumps(answer.headers)
        assert [h for h in hidden if h in text] == [], answer.url


def _api(url: str) -> bool:
    path = urlsplit(url).path
    return (path.startswith("/api/") and not path.endswith("/events")) or path == "/attache-config.json"


def test_the_agents_file_reaches_twilio_exactly_once(open_app, twilio_server, fake, contract, seen, tmp_path):
    cid = fake.conversation(*participants("chat", "chat"))
    page = seen(open_app("agent", server=twilio_server, conv=cid))
    message = page.get_by_role("textbox", name="Message")
    expect(message).to_have_accessible_description("web chat: up to 25 MB · images, PDF, text, Word documents")
    pdf = files.PDF + f"%{secrets.token_hex(8)}\n".encode()     # this test's bytes (the stand-ins are shared)
    attach(page, files.write(tmp_path, "invoice.pdf", pdf))
    message.fill("Here is your invoice")
    page.get_by_role("button", name="Send").click()
    delivered = page.get_by_role("log", name="Conversation").locator("article:not(.pending)")
    expect(delivered).to_have_count(1)
    expect(delivered.get_by_role("link", name=re.compile("invoice.pdf"))).to_be_visible()

    [stored] = Api(twilio_server.url, "agent").history(cid)
    [to_mcs] = [r for r in fake.calls("POST", "/Media") if r.body == pdf]
    assert (to_mcs.headers["content-type"], to_mcs.headers["authorization"]) == ("application/pdf", BASIC)
    [create] = fake.calls("POST", f"/v1/Conversations/{cid}/Messages")
    [created] = fake.messages(cid)
    assert (create.form["Author"], create.form["Body"]) == ("Agent", "Here is your invoice")
    assert create.form["MediaSid"] == created["media"][0]["sid"] == to_mcs_sid(fake, pdf)
    assert json.loads(create.form["Attributes"])["attache"]["key"] == stored["idempotency_key"] != ""
    assert create.headers["authorization"] == BASIC


def to_mcs_sid(fake, data: bytes) -> str:
    [sid] = [s for s, m in fake.media.items() if m["data"] == data]
    return sid


def test_a_retry_after_a_lost_answer_posts_once(open_app, twilio_server, fake, contract, tmp_path):
    cid = fake.conversation(*participants("sms"))
    fake.lose_next.append(cid)                     # Twilio creates it; its answer never reaches our server
    page = open_app("agent", server=twilio_server, conv=cid)
    page.get_by_role("textbox", name="Message").fill("Your order shipped")
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_role("alert")).to_contain_text("Twilio is not answering properly right now.")
    log.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").filter(has_text="Your order shipped")).to_have_count(1)
    assert [m["body"] for m in fake.messages(cid)] == ["Your order shipped"]
    assert len(fake.calls("POST", f"/v1/Conversations/{cid}/Messages")) == 1   # the retry read back, not posted
    assert [m["text"] for m in Api(twilio_server.url, "agent").history(cid)] == ["Your order shipped"]


def test_a_customers_image_appears_live_with_its_thumbnail(open_app, twilio_server, fake, contract, seen):
    cid = fake.conversation(*participants("whatsapp"))
    page = seen(open_app("agent", server=twilio_server, conv=cid))
    image = files.png_bytes()
    form = event(cid, [media_item(fake, image, "image/png", "receipt.png")], Author="whatsapp:+15558675310")
    r = httpx.post(twilio_server.url + "/twilio/webhook", content=urlencode(form), headers=signed(form), timeout=30)
    assert r.json()["status"] == "delivered"
    log = page.get_by_role("log", name="Conversation")
    theirs = log.locator("article.theirs")
    expect(theirs).to_contain_text("Here is my receipt")
    expect(log.get_by_role("img", name="receipt.png")).to_be_visible()
    page.wait_for_function("[...document.images].some(i => i.alt === 'receipt.png' && i.naturalWidth === 48)")
    expect(theirs).to_have_count(1)


@pytest.mark.parametrize("channels,name,size,head,limit,refusal", [
    (("sms",), "scan.pdf", 6_000_000, files.PDF, "SMS/MMS: up to 5 MB",
     "scan.pdf is 6.0 MB; the limit on SMS/MMS is 5 MB"),
    (("whatsapp",), "photo.png", 6_000_000, files.png_bytes(), "WhatsApp: up to 16 MB (images up to 5 MB)",
     "photo.png is 6.0 MB; the limit on WhatsApp for images is 5 MB"),
])
def test_a_file_over_the_channels_limit_is_refused_before_upload(open_app, twilio_server, fake, contract, tmp_path,
                                                                 channels, name, size, head, limit, refusal):
    cid = fake.conversation(*participants(*channels))
    page = open_app("agent", server=twilio_server, conv=cid)
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if "/api/uploads" in r.url else None)
    expect(page.get_by_role("textbox", name="Message")).to_have_accessible_description(re.compile(re.escape(limit)))
    attach(page, files.sized(tmp_path, name, size, head))
    expect(page.get_by_role("alert")).to_contain_text(refusal)
    expect(page.get_by_role("group", name=f"Attachment {name}")).to_have_count(0)
    assert uploads == [] and fake.messages(cid) == []


def test_text_over_the_channels_limit_is_refused_on_the_spot(open_app, twilio_server, fake, contract):
    cid = fake.conversation(*participants("whatsapp"))
    page = open_app("agent", server=twilio_server, conv=cid)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/messages" in r.url else None)
    message = page.get_by_role("textbox", name="Message")
    message.fill("x" * 1601)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("The message is 1,601 characters; the limit on WhatsApp is 1,600")
    expect(message).to_have_value("x" * 1601)          # kept, to be shortened
    assert posts == [] and fake.messages(cid) == []


def test_refused_credentials_stop_the_page_without_retrying(browser, offsite_guard, twilio_server, fake, contract):
    cid = fake.conversation(*participants("sms"))
    fake.fail_next.append((f"/{cid}/Participants", twilio_error(401, 20003, "Authenticate")))
    context = browser.new_context()
    try:
        page = context.new_page()
        offsite_guard.watch(page)
        page.goto(f"{twilio_server.url}/?as=agent&conversation={cid}")
        expect(page.get_by_role("alert")).to_contain_text("Twilio refused this server's credentials.")
        expect(page.get_by_role("status").filter(has_text="Not connected")).to_be_visible()   # not "retrying in"
        assert len(fake.calls("GET", f"/{cid}/Participants")) == 1
    finally:
        context.close()


def test_scrolling_up_reads_the_whole_twilio_history_in(open_app, twilio_server, fake, contract, seen):
    """150 earlier messages, images among them, written before the bridge (no webhook ever announced
    them); Twilio rate-limits the read of the older page once: the page says earlier messages are
    loading, and the rest arrives when Twilio lets it."""
    from tests.e2e.test_long_history import scroll_up_until_visible
    cid = fake.conversation(*participants("whatsapp"))
    fake.add_history(cid, 150, media_every=40, image=files.png_bytes())
    limited = twilio_error(429, 20429, "Too Many Requests")
    limited.headers["Retry-After"] = "1"
    fake.fail_list.append((cid, 1, limited))
    page = seen(open_app("agent", server=twilio_server, conv=cid))
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_text("Earlier message 149", exact=True)).to_be_in_viewport()
    expect(log.locator("article")).to_have_count(100)
    expect(page.get_by_text("No messages yet", exact=False)).to_be_hidden()
    scroll_up_until_visible(page, log, log.get_by_text("Earlier message 0", exact=True))
    expect(log.get_by_text("This is the start of the conversation.")).to_be_visible()
    expect(log.get_by_role("img", name="earlier-0.png")).to_be_visible()
    page.wait_for_function("[...document.images].some(i => i.alt === 'earlier-0.png' && i.naturalWidth > 0)")
    for i in (0, 39, 40, 49):                           # the older page's block (far blocks are spacers)
        expect(log.get_by_text(f"Earlier message {i}", exact=True)).to_have_count(1)
    shown = page.evaluate("[...document.querySelectorAll('#history article.msg')].map(a => a.id)")
    assert len(shown) == len(set(shown))
    expect(log.get_by_role("alert")).to_have_count(0)     # a passing fault is no error
    assert [r.query.get("Page") for r in fake.calls("GET", f"/v1/Conversations/{cid}/Messages")] == [None, "1", "1"]


def test_a_rate_limited_first_read_says_loading_then_shows_the_history(open_app, twilio_server, fake, contract):
    cid = fake.conversation(*participants("sms"))
    fake.add_history(cid, 5)
    limited = twilio_error(429, 20429, "Too Many Requests")
    limited.headers["Retry-After"] = "5"
    fake.fail_list.append((cid, 0, limited))
    page = open_app("agent", server=twilio_server, conv=cid)
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_text("Loading earlier messages…")).to_be_visible()   # what there is (nothing yet), and why
    expect(page.get_by_text("No messages yet", exact=False)).to_be_hidden()
    expect(log.get_by_text("Earlier message 4", exact=True)).to_be_visible(timeout=20_000)
    expect(log.get_by_text("This is the start of the conversation.")).to_be_visible()
    expect(log.locator("article")).to_have_count(5)
    expect(page.get_by_role("alert")).to_have_count(0)
    assert len(fake.calls("GET", f"/v1/Conversations/{cid}/Messages")) == 2
