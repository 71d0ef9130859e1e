"""Section 8: the look — light and dark themes, narrow screens, the README screenshot."""
from __future__ import annotations

import os
import re

from playwright.sync_api import expect

from tests import files
from tests.e2e.api import Api
from tests.e2e.holds import PatchHold


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


LONG_NAME = "quarterly-statement-for-account-0042-1337-with-all-the-attachments-final.pdf"   # 75 characters
LONG_WORD = "https://tracking.example.org/parcel/" + "Z8k2Q9x7W4m1" * 6                    # no break opportunity
SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll(
      '.msg, .bubble, .file-card, .thumb, .staged-file, .notice, .progress-row, .actions, .warning, .composer, .topbar')) {
    const r = el.getBoundingClientRect();
    if (r.width && (r.left < 0 || r.right > width + 0.5)) out.push(`${el.className}: ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  const history = document.getElementById('history');
  return {out, page: document.documentElement.scrollWidth, width, history: history.scrollWidth - history.clientWidth};
}"""


def test_long_names_and_words_wrap_at_360_px(open_app, reference_server, conversation, tmp_path):
    """v1 defect: a sent file with a ~70-character name made its bubble ~725 px wide,
    running off the left edge. Names and unbroken words wrap; the full name stays
    available (title and accessible name); staged, uploading and failed alike."""
    Api(reference_server.url, "agent").send(conversation, text=LONG_WORD, files=[(LONG_NAME, files.PDF, "application/pdf")])
    Api(reference_server.url, "customer").send(conversation, text="Thanks " + LONG_WORD,
                                               files=[("x" * 70 + ".docx", files.DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document")])
    page = open_app("agent", viewport={"width": 360, "height": 700})
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article")).to_have_count(2)
    card = log.get_by_role("link", name=LONG_NAME)      # the whole name is its accessible name
    expect(card).to_have_attribute("title", re.compile(f"^(Open|Download) {re.escape(LONG_NAME)}$"))
    expect(card.locator(".file-name")).to_have_attribute("title", LONG_NAME)
    box = card.bounding_box()
    assert box and 0 <= box["x"] and box["x"] + box["width"] <= 360

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    chooser.value.set_files(str(files.write(tmp_path, LONG_NAME, files.PDF)))
    staged = page.get_by_role("group", name=f"Attachment {LONG_NAME}")
    expect(staged).to_be_visible()
    expect(staged.locator(".file-name")).to_have_attribute("title", LONG_NAME)
    found = page.evaluate(SIDEWAYS)
    assert found == {"out": [], "page": 360, "width": 360, "history": 0}

    chunks = PatchHold(page)
    page.get_by_role("button", name="Send").click()
    expect(log.get_by_role("progressbar", name="Upload progress")).to_be_visible()
    page.route("**/api/conversations/*/messages",
               lambda route: route.abort("connectionreset") if route.request.method == "POST" else route.continue_())
    page.get_by_role("textbox", name="Message").fill(LONG_WORD)
    page.get_by_role("button", name="Send").click()
    expect(log.get_by_role("button", name="Retry")).to_be_visible()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    chooser.value.set_files(str(files.write(tmp_path, "y" * 80 + ".exe", files.EXE)))    # refused: a notice
    expect(page.locator("#notices").get_by_role("alert")).to_be_visible()
    found = page.evaluate(SIDEWAYS)
    assert found == {"out": [], "page": 360, "width": 360, "history": 0}
    chunks.end()
