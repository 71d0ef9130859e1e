"""The page in production mode: tokens from the portal on another origin, renewed before they
end, "Sign in again" when the portal refuses, sides and names from the token, events by ticket,
and fresh media links when the old ones expire. No access token ever appears in a URL
(the `url_guard` fixture checks every request of every page here)."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from server.auth.tokens import mint
from tests import files
from tests.e2e.api import MINTERS, Api
from tests.e2e.conftest import READY_TIMEOUT_MS, wait_ready
from tests.e2e.production import KEY, production_server
from tests.e2e.test_canvas import attach
from tests.e2e.unsent import wait_kept
from tools import waiting

ANN = ("u-ann", "Ann Agent", "agent")
BOB = ("u-bob", "Bob Agent", "agent")
CLEO = ("c-cleo", "Cleo Customer", "customer")


@pytest.fixture(scope="module")
def prod(tmp_path_factory, token_portal):
    """Production mode; tokens from the portal (another origin), links that live 10 s."""
    server = production_server(tmp_path_factory.mktemp("prod"), token_portal, extra_auth='media_link_ttl = "10s"')
    MINTERS[server.url] = lambda identity, conversation: server.mint(
        *{"agent": ("u-ann", "agent", ["*"], "Ann Agent"),
          "customer": ("c-cleo", "customer", [conversation], "Cleo Customer")}[identity])
    yield server
    server.stop()


@pytest.fixture()
def open_as(browser, prod, token_portal, offsite_guard, url_guard, conversation):
    """open_as(person, conversations=None, ttl=3600, conv=None, ready=True) -> (page, portal session id)."""
    contexts = []

    def open_(person, conversations=None, ttl=3600, conv=None, ready=True, server=None):
        sub, name, role = person
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        contexts.append(context)
        sid = token_portal.sign_in(context, sub, name, role, conversations or (["*"] if role == "agent" else [conversation]),
                             ttl)
        page = context.new_page()
        offsite_guard.watch(page)
        url_guard.watch(page)
        page.on("console", lambda m: print(f"[{sub} console.{m.type}] {m.text}") if m.type in ("error", "warning") else None)
        page.goto(f"{(server or prod).url}/?conversation={conv or conversation}")
        if ready:
            wait_ready(page)
        return page, sid

    yield open_
    for context in contexts:
        context.close()


def send(page, text: str) -> None:
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send").click()


def wait_until(page, condition, what: str) -> None:
    """A condition of the test's world (the portal, the clock), while the page runs."""
    waiting.wait_until(condition, what, 40, 0.2, waiting.page_pause(page))


def by(log, name: str):
    return log.get_by_role("article", name=re.compile(f"^{re.escape(name)}, "))


def test_tokens_come_from_the_portal_and_sides_follow_them(open_as, token_portal, prod, conversation):
    agent, agent_sid = open_as(ANN)
    customer, customer_sid = open_as(CLEO)
    assert token_portal.tokens_of(agent_sid) and token_portal.tokens_of(customer_sid)
    expect(agent.locator("#mode-marker")).to_be_hidden()
    send(agent, "Hello from Ann")
    expect(by(customer.get_by_role("log", name="Conversation"), "Ann Agent")).to_contain_text("Hello from Ann")
    send(customer, "Thanks, Ann")
    log = agent.get_by_role("log", name="Conversation")
    expect(by(log, "Cleo Customer")).to_contain_text("Thanks, Ann")
    expect(by(log, "You")).to_contain_text("Hello from Ann")
    [first, second] = Api(prod.url, "agent").history(conversation)
    assert (first["sender"], first["sender_name"], first["sender_role"]) == ANN
    assert (second["sender"], second["sender_name"], second["sender_role"]) == CLEO


def test_files_travel_with_the_portals_token(open_as, prod, conversation, tmp_path):
    agent, _ = open_as(ANN)
    customer, _ = open_as(CLEO)
    attach(agent, files.write(tmp_path, "receipt.png", files.png_bytes()))
    send(agent, "your receipt")
    picture = customer.get_by_role("log", name="Conversation").get_by_role("img", name="receipt.png")
    expect(picture).to_be_visible()
    expect(picture).to_have_attribute("src", re.compile(".+"))   # its thumbnail follows the message
    customer.wait_for_function(LOADED, arg=picture.get_attribute("src"))
    [sent] = Api(prod.url, "agent").history(conversation)
    assert sent["sender"] == ANN[0] and [a["name"] for a in sent["attachments"]] == ["receipt.png"]


def test_two_agents_in_one_conversation_each_see_their_own_and_the_others_name(open_as):
    ann, _ = open_as(ANN)
    bob, _ = open_as(BOB)
    send(ann, "Ann here")
    expect(by(bob.get_by_role("log", name="Conversation"), "Ann Agent")).to_contain_text("Ann here")
    send(bob, "Bob here")
    for page, other in ((ann, "Bob Agent"), (bob, "Ann Agent")):
        log = page.get_by_role("log", name="Conversation")
        expect(log.locator("article:not(.pending)")).to_have_count(2)
        expect(by(log, other)).to_have_count(1)
        expect(by(log, "You")).to_have_count(1)
        expect(log.locator("article.mine")).to_have_count(1)


def test_the_token_is_renewed_before_it_ends_and_the_page_goes_on(open_as, token_portal, prod, conversation):
    page, sid = open_as(ANN, ttl=12)
    first = token_portal.tokens_of(sid)[0]
    wait_until(page, lambda: len(token_portal.tokens_of(sid)) >= 2, "a second token")
    assert token_portal.tokens_of(sid)[1].at < first.exp, "renewed only after the first token had ended"
    wait_until(page, lambda: time.time() > first.exp + 6, "the first token is refused (with the server's leeway)")
    send(page, "sent with the renewed token")
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article:not(.pending)").filter(has_text="sent with the renewed token")).to_have_count(1)
    Api(prod.url, "customer").send(conversation, text="live after the first stream ended")
    expect(log).to_contain_text("live after the first stream ended", timeout=15_000)
    expect(page.get_by_role("status")).to_have_text("Live")


def test_an_expired_token_answer_renews_once_and_the_request_goes_through(open_as, token_portal):
    page, sid = open_as(ANN)
    expect(page.get_by_role("status")).to_have_text("Live")  # the stream's ticket is not the first request to meet it
    statuses = []
    page.on("response", lambda r: statuses.append((r.request.method, r.url, r.status)) if "/api/" in r.url else None)
    issued = len(token_portal.tokens_of(sid))
    expired = mint(KEY, ANN[0], "agent", ["*"], ANN[1], ttl=60, now=time.time() - 120)
    page.evaluate("token => window.attache.setToken(token)", expired)  # as if the laptop slept past exp
    send(page, "sent after a sleep")
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article:not(.pending)").filter(has_text="sent after a sleep")).to_have_count(1)
    assert len(token_portal.tokens_of(sid)) == issued + 1
    posts = [s for m, u, s in statuses if m == "POST" and u.endswith("/messages")]
    assert posts == [401, 201]


def test_signed_out_the_page_says_sign_in_again_and_keeps_the_draft_and_unsent_messages(open_as, token_portal):
    page, sid = open_as(ANN, ttl=8)
    first = token_portal.tokens_of(sid)[0]
    token_portal.sign_out(sid)
    notice = page.get_by_role("alert").filter(has_text="Sign in again")
    expect(notice).to_be_visible(timeout=20_000)  # at the renewal, 6 s in
    expect(page.get_by_role("status")).to_have_text("Signed out")
    wait_until(page, lambda: time.time() > first.exp + 6, "the token is refused")
    send(page, "sent while signed out")
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article.failed")).to_contain_text("sent while signed out")
    page.get_by_role("textbox", name="Message").fill("half-written reply")
    wait_kept(page, "half-written reply")

    page.reload()  # still signed out: nothing to start with but the notice
    expect(notice).to_be_visible(timeout=READY_TIMEOUT_MS)
    expect(page.get_by_role("textbox", name="Message")).to_be_disabled()
    token_portal.sign_in_again(sid)
    notice.get_by_role("button", name="Try again").click()
    wait_ready(page)
    expect(notice).to_be_hidden()
    expect(page.get_by_role("textbox", name="Message")).to_have_value("half-written reply")
    expect(log.locator("article.failed")).to_contain_text("sent while signed out")
    log.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").filter(has_text="sent while signed out")).to_have_count(1)
    expect(page.get_by_role("status")).to_have_text("Live")


def test_a_customer_cannot_open_another_conversation(open_as, conversation):
    page, _ = open_as(CLEO, conversations=[conversation], conv=f"{conversation}-other", ready=False)
    expect(page.get_by_role("alert")).to_contain_text("does not exist", timeout=READY_TIMEOUT_MS)
    expect(page.get_by_role("textbox", name="Message")).to_be_disabled()
    expect(page.get_by_role("log", name="Conversation").locator("article")).to_have_count(0)


def test_an_embedding_page_hands_the_token_over_in_code(browser, tmp_path, offsite_guard, url_guard, conversation):
    server = production_server(tmp_path / "handed", None)  # no token_url: the embedding page's code decides
    try:
        token = server.mint(ANN[0], "agent", ["*"], ANN[1])
        context = browser.new_context()
        context.add_init_script("window.__asked = 0; window.addEventListener('attache:token-needed', () => "
                                f"{{ window.__asked++; window.attache.setToken({token!r}); }});")
        page = context.new_page()
        offsite_guard.watch(page)
        url_guard.watch(page)
        page.goto(f"{server.url}/?conversation={conversation}")
        wait_ready(page)
        assert page.evaluate("window.__asked") >= 1
        send(page, "handed over")
        expect(by(page.get_by_role("log", name="Conversation"), "You")).to_contain_text("handed over")
        context.close()
    finally:
        server.stop()


def seed_picture(prod, conversation: str, texts_after: int = 0) -> None:
    api = Api(prod.url, "customer")
    api.send(conversation, files=[("pixel.png", files.png_bytes(), "image/png")])
    for i in range(texts_after):
        api.send(conversation, text=f"line {i} " + "words " * 30)


def picture_src(page) -> str:
    return page.get_by_role("log", name="Conversation").get_by_role("img", name="pixel.png").get_attribute("src")


HIDE = "hidden => Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden})"
EXPIRY = "src => Number(new URL(src, location.href).searchParams.get('e'))"
LOADED = "src => [...document.images].some(i => i.getAttribute('src') === src && i.complete && i.naturalWidth > 0)"


def test_a_tab_shown_again_after_its_links_expired_gets_fresh_ones_in_place(open_as, prod, conversation):
    seed_picture(prod, conversation)
    page, _ = open_as(ANN)
    old = picture_src(page)
    page.wait_for_function(LOADED, arg=old)
    page.evaluate("document.querySelector('#history article').dataset.probe = 'the same node'")
    page.evaluate(HIDE, True)  # the tab goes to the background: the page's own timer stands down
    expires = page.evaluate(EXPIRY, old)
    wait_until(page, lambda: time.time() > expires + 1, "the link expired")
    page.evaluate(HIDE, False)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_function("old => document.querySelector('#history img').getAttribute('src') !== old", arg=old)
    page.wait_for_function(LOADED, arg=picture_src(page))
    assert page.evaluate("document.querySelector('#history article').dataset.probe") == "the same node"


def test_a_picture_whose_link_expired_before_it_was_shown_loads_with_a_fresh_link(open_as, prod, conversation):
    seed_picture(prod, conversation, texts_after=80)
    page, _ = open_as(ANN)
    page.evaluate(HIDE, True)
    old = picture_src(page)
    assert not page.evaluate(LOADED, old), "the picture should wait (loading=lazy) far above the newest message"
    expires = page.evaluate(EXPIRY, old)
    wait_until(page, lambda: time.time() > expires + 1, "the link expired")
    page.evaluate("document.getElementById('history').scrollTop = 0")  # 403 link_expired, then fresh links
    page.wait_for_function("old => document.querySelector('#history img').getAttribute('src') !== old", arg=old)
    page.wait_for_function(LOADED, arg=picture_src(page))
    assert page.evaluate("document.getElementById('history').scrollTop") < 50  # the reader stays where they were
