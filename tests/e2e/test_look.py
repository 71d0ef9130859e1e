"""Section 8: the look — light and dark themes, narrow screens, the README screenshot."""
from __future__ import annotations

import os

from playwright.sync_api import expect

from tests import files
from tests.e2e.api import Api


def seed(server_url: str, conversation: str) -> None:
    customer, agent = Api(server_url, "customer"), Api(server_url, "agent")
    customer.send(conversation, text="Hi! My order arrived damaged — here is a photo.",
                  files=[("damaged-box.png", files.png_bytes(320, 200, (180, 120, 60)), "image/png")])
    agent.send(conversation, text="Sorry about that! Here is the return label; print it and attach it to the box.",
               files=[("return-label.pdf", files.PDF, "application/pdf")])
    customer.send(conversation, text="Thanks, printed. Receipt attached as well.",
                  files=[("receipt.docx", files.DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document")])


def test_conversation_screenshot_light_and_dark(open_app, reference_server, conversation, tmp_path):
    seed(reference_server.url, conversation)
    light = open_app("agent")
    dark = open_app("agent", color_scheme="dark")
    for page in (light, dark):
        expect(page.get_by_role("log", name="Conversation").locator("article")).to_have_count(3)
        page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    background = "getComputedStyle(document.body).backgroundColor"
    assert light.evaluate(background) != dark.evaluate(background)
    target = os.environ.get("ATTACHE_SCREENSHOT_DIR") or str(tmp_path)
    light.screenshot(path=os.path.join(target, "screenshot-light.png"))
    dark.screenshot(path=os.path.join(target, "screenshot-dark.png"))


def test_usable_at_360_px_without_horizontal_scrolling(open_app, reference_server, conversation):
    seed(reference_server.url, conversation)
    page = open_app("agent", viewport={"width": 360, "height": 700})
    expect(page.get_by_role("log", name="Conversation").locator("article")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for name in ("Attach file", "Send"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360
