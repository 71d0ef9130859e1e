"""Accessibility: axe-core (WCAG 2.2 A/AA and best practice) finds nothing, at any
severity, in every state of the canvas, light and dark; upload progress is not
announced on every chunk; motion follows prefers-reduced-motion.

axe-core comes from npm (package.json devDependencies, pinned) and is injected by
the test only: it is never part of the site."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import files
from tools.services.attache import ROOT
from tests.e2e.api import Api
from tests.e2e.conftest import wait_ready
from tests.e2e.holds import PatchHold
from tests.e2e.test_canvas import attach

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => `${v.id} (${v.impact}): ${v.help} -- ` +
    v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', '));
}"""
LONG_NAME = "return-label-for-order-1234567-with-a-rather-long-name-from-the-carrier-2024.pdf"
LONG_URL = "https://example.org/tracking/" + "a1b2c3d4e5" * 8


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail("axe-core is missing: run the tests with `python3 build.py test` (npm ci installs it)")
    return AXE.read_text()


def seed(server_url: str, conversation: str) -> None:
    customer, agent = Api(server_url, "customer"), Api(server_url, "agent")
    customer.send(conversation, text=f"Hi! The parcel arrived damaged, see {LONG_URL}",
                  files=[("damaged-box.png", files.png_bytes(320, 200, (180, 120, 60)), "image/png")])
    agent.send(conversation, text="Sorry about that! Here is the return label.",
               files=[(LONG_NAME, files.PDF, "application/pdf")])
    customer.send(conversation, text="Thanks. Receipt attached.",
                  files=[("receipt.docx", files.DOCX,
                          "application/vnd.openxmlformats-officedocument.wordprocessingml.document")])


def violations(page) -> list[str]:
    return page.evaluate(RUN_AXE, TAGS)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_in_any_state(browser, reference_server, offsite_guard, conversation, axe_source,
                                        tmp_path, scheme):
    seed(reference_server.url, conversation)
    # reduced motion: axe judges what stays on screen, not a message halfway through fading in
    context = browser.new_context(color_scheme=scheme, reduced_motion="reduce", viewport={"width": 1100, "height": 800})
    context.add_init_script(axe_source)
    page = context.new_page()
    offsite_guard.watch(page)
    found: dict[str, list[str]] = {}
    box = page.get_by_role("textbox", name="Message")
    log = page.get_by_role("log", name="Conversation")

    page.goto(f"{reference_server.url}/?as=agent&conversation={conversation}-empty")
    wait_ready(page)
    expect(page.get_by_text("No messages yet")).to_be_visible()
    found["empty"] = violations(page)

    page.goto(f"{reference_server.url}/?as=agent&conversation={conversation}")
    wait_ready(page)
    expect(log.locator("article")).to_have_count(3)
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    found["history"] = violations(page)

    attach(page, files.write(tmp_path, "setup.exe", files.EXE))
    expect(page.get_by_role("alert")).to_contain_text("setup.exe")
    found["error notice"] = violations(page)

    attach(page, files.write(tmp_path, "label-photo.png", files.png_bytes(64, 48)))
    expect(page.get_by_role("group", name="Attachment label-photo.png")).to_be_visible()
    found["staged file"] = violations(page)

    chunks = PatchHold(page)
    page.get_by_role("button", name="Send").click()
    expect(log.get_by_role("progressbar", name="Upload progress")).to_be_visible()
    found["uploading"] = violations(page)

    page.route("**/api/conversations/*/messages",
               lambda route: route.abort("connectionreset") if route.request.method == "POST" else route.continue_())
    box.fill("This one cannot be sent")
    page.get_by_role("button", name="Send").click()
    expect(log.get_by_role("button", name="Retry")).to_be_visible()
    found["failed message"] = violations(page)

    chunks.end()
    context.close()
    assert {state: v for state, v in found.items() if v} == {}


def test_upload_progress_is_announced_in_steps_not_on_every_chunk(open_app, tmp_path):
    """The bar and its label sit in an aria-live=off row inside the log; only the
    announcement (start, then 25% steps) is spoken."""
    page = open_app("agent")
    chunks = PatchHold(page)
    attach(page, files.sized(tmp_path, "big-scan.pdf", 10_000_000, files.PDF))
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    bar = log.get_by_role("progressbar", name="Upload progress")
    expect(bar).to_be_visible()
    pending = log.locator("article.pending")
    assert pending.locator(".progress-row").get_attribute("aria-live") == "off"
    expect(pending.locator(".announce")).to_have_text("Uploading")
    # the live log is what a screen reader follows: the moving label is muted inside it
    muted = page.evaluate("""() => {
        const label = document.querySelector('article.pending .status');
        return label.closest('[aria-live]').getAttribute('aria-live');
    }""")
    assert muted == "off"
    chunks.end()


@pytest.mark.parametrize("motion,animated", [("reduce", False), ("no-preference", True)])
def test_motion_follows_prefers_reduced_motion(open_app, reference_server, conversation, motion, animated):
    page = open_app("agent", reduced_motion=motion)
    Api(reference_server.url, "customer").send(conversation, text="a new message slides in")
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article")).to_have_count(1)
    arriving = log.locator("article").last.evaluate("e => getComputedStyle(e).animationName")
    transition = page.get_by_role("button", name="Send").evaluate("e => getComputedStyle(e).transitionDuration")
    assert (arriving != "none") is animated
    assert (transition != "0s") is animated
