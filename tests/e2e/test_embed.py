"""<attache-canvas> in a portal on another origin: one script tag and one element, under the
portal's strict CSP (the one docs/embedding.md documents) and its aggressive global CSS. The agent
sends and receives files inside it; the portal keeps its look and the canvas keeps its own;
the portal hears the element's events."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import files
from tests.e2e.api import Api
from tests.e2e.conftest import wait_ready
from tests.e2e.test_canvas import attach
from tests.e2e.portal_site import OPEN_FEEDS, PortalSite, portal_csp

GREEN = "rgb(0, 128, 0)"
PORTAL_CSS = f"""
* {{ font: 30px serif !important; color: red }}
button {{ display: none }}
attache-canvas {{ height: 560px; --attache-accent: {GREEN}; }}
"""


@pytest.fixture()
def portal(tmp_path):
    root = tmp_path / "portal"
    root.mkdir()
    site = PortalSite(root)
    yield site
    site.close()


@pytest.fixture()
def embedded(browser, make_server, portal, offsite_guard, conversation):
    """(server, page): our server admitting the portal's origin, the portal's page embedding the
    canvas under its CSP, and a fresh browser page (not opened yet) watched for other hosts."""
    server = make_server(config_text=f'[server]\ncors_allow_origins = ["{portal.url}"]\n')
    portal.csp = portal_csp(server.url)
    portal.page(server.url, [conversation], PORTAL_CSS)
    context = browser.new_context()
    page = context.new_page()
    offsite_guard.watch(page)
    yield server, page
    context.close()


def style(page, script: str) -> dict:
    return page.evaluate(f"""() => {{
        const look = (el) => {{ const s = getComputedStyle(el);
            return {{ size: s.fontSize, family: s.fontFamily, color: s.color, display: s.display,
                     margin: s.margin, boxSizing: s.boxSizing, background: s.backgroundColor }}; }};
        {script}
    }}""")


def heard(page, kind: str) -> list[dict]:
    return [e for e in page.evaluate("window.heard") if e["type"] == kind]


def test_a_portal_embeds_the_canvas_with_one_script_tag_and_one_element(embedded, portal, conversation, tmp_path):
    server, page = embedded
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = page.goto(f"{portal.url}/")
    assert response.headers["content-security-policy"] == portal.csp
    wait_ready(page)                    # Playwright, like assistive technology, sees into the open shadow root
    assert page.evaluate("document.querySelector('attache-canvas').shadowRoot.mode") == "open"
    assert page.evaluate("document.documentElement.dataset.pythonStart") == "snapshot"

    # The portal keeps its look: none of the canvas's styles reach it.
    outside = style(page, """return { h1: look(document.querySelector('#portal-header h1')),
        button: look(document.querySelector('#portal-header button')), body: look(document.body),
        header: look(document.getElementById('portal-header')) };""")
    assert outside["h1"]["size"] == "30px" and outside["h1"]["family"] == "serif"
    assert outside["h1"]["color"] == "rgb(255, 0, 0)"
    assert outside["button"]["display"] == "none"
    assert outside["body"]["margin"] == "8px" and outside["header"]["boxSizing"] == "content-box"
    # ...and the canvas keeps its own: none of the portal's reach inside, but the accent it themes.
    inside = style(page, """const root = document.querySelector('attache-canvas').shadowRoot;
        return { text: look(root.getElementById('message')), heading: look(root.querySelector('h1')),
                 send: look(root.getElementById('send')) };""")
    assert inside["text"]["size"] == "15px" and "serif" != inside["text"]["family"]
    assert inside["heading"]["size"] == "16.8px" and inside["heading"]["color"] != "rgb(255, 0, 0)"
    assert inside["send"]["display"] != "none" and inside["send"]["background"] == GREEN
    expect(page.get_by_role("heading", name="Conversation with Customer")).to_be_visible()

    attach(page, files.write(tmp_path, "invoice.pdf", files.PDF))
    page.get_by_role("textbox", name="Message").fill("the invoice, from the portal")
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    delivered = log.locator("article:not(.pending)")
    expect(delivered.get_by_role("link", name=re.compile("invoice.pdf"))).to_have_attribute(
        "href", re.compile(f"^{re.escape(server.url)}/media/"))
    page.wait_for_function("window.heard.some(e => e.type === 'attache-message-sent')")
    [sent] = heard(page, "attache-message-sent")
    assert sent["target"] == "attache-canvas"
    assert sent["detail"]["text"] == "the invoice, from the portal"
    assert sent["detail"]["conversation"] == conversation and sent["detail"]["sender"] == "agent"
    assert [a["name"] for a in sent["detail"]["attachments"]] == ["invoice.pdf"]

    Api(server.url).send(conversation, text="here is my photo", files=[("photo.png", files.png_bytes(), "image/png")])
    expect(log.get_by_role("img", name="photo.png")).to_be_visible()
    page.wait_for_function("window.heard.some(e => e.type === 'attache-message-received')")
    [received] = heard(page, "attache-message-received")
    assert received["detail"]["text"] == "here is my photo" and received["detail"]["sender"] == "customer"
    assert received["detail"]["attachments"][0]["url"].startswith(f"{server.url}/media/")

    attach(page, files.write(tmp_path, "tool.exe", files.EXE))
    expect(page.get_by_role("alert")).to_contain_text("tool.exe")
    page.wait_for_function("window.heard.some(e => e.type === 'attache-error')")
    [error] = heard(page, "attache-error")
    assert "tool.exe" in error["detail"]["message"] and error["detail"]["code"]

    def refuse(route):
        if route.request.method != "POST":
            return route.continue_()
        route.fulfill(status=422, headers={"Access-Control-Allow-Origin": portal.url},
                      json={"error": {"code": "refused_by_test", "message": "Refused by the test.", "hint": ""}})

    page.route(f"{server.url}/api/conversations/*/messages", refuse)
    page.get_by_role("textbox", name="Message").fill("this one is refused")
    page.get_by_role("button", name="Send").click()
    expect(log.locator("article.failed").get_by_role("alert")).to_contain_text("Refused by the test.")
    page.wait_for_function("window.heard.some(e => e.type === 'attache-error' && e.detail.unsent)")
    unsent = [e for e in heard(page, "attache-error") if e["detail"].get("unsent")]
    assert [e["detail"]["code"] for e in unsent] == ["refused_by_test"]

    assert heard(page, "csp") == []
    assert [p for p in problems if "422" not in p] == []      # the browser logs the refused POST


def test_a_canvas_the_portal_takes_out_closes_its_live_feed_and_catches_up_when_put_back(
        embedded, portal, conversation):
    """A portal that swaps views removes the element: it must not keep a connection to our
    server open (browsers allow six per host), and put back it shows what it missed."""
    server, page = embedded
    page.goto(f"{portal.url}/")
    wait_ready(page)
    open_feeds = OPEN_FEEDS
    page.wait_for_function(f"{open_feeds} === 1")

    page.evaluate("window.kept = document.querySelector('attache-canvas'); window.kept.remove()")
    page.wait_for_function(f"{open_feeds} === 0")
    Api(server.url).send(conversation, text="sent while the canvas was away")
    page.wait_for_timeout(500)   # the subject, not a synchronisation: the message does not reopen a feed
    assert page.evaluate(open_feeds) == 0

    page.evaluate("document.body.append(window.kept)")
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("sent while the canvas was away")
    page.wait_for_function(f"{open_feeds} === 1")
    Api(server.url).send(conversation, text="and one after")
    expect(log).to_contain_text("and one after")
    expect(log.locator("article").filter(has_text="sent while the canvas was away")).to_have_count(1)

    page.evaluate("document.body.prepend(window.kept)")   # a move is not a removal
    page.wait_for_timeout(300)   # the subject, not a synchronisation: no second feed opens meanwhile
    assert page.evaluate(open_feeds) == 1
