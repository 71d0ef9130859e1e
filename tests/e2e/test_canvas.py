"""Section 2 of the v1 issue, point by point, as an agent would use the page."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from app.core.backoff import POLICY
from tests import files
from tests.e2e.api import Api
from tests.e2e.conftest import next_frame


def composer_parts(page):
    return (
        page.get_by_role("textbox", name="Message"),
        page.get_by_role("button", name="Attach file"),
        page.get_by_role("button", name="Send"),
    )


def attach(page, path):
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    chooser.value.set_files(str(path))


def test_history_shows_earlier_messages_oldest_first_and_scrolls_to_newest(open_app, reference_server, conversation):
    api = Api(reference_server.url)
    for n in range(40):
        api.send(conversation, text=f"earlier message {n:02d}")
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article")).to_have_count(40)
    texts = log.locator("article .text").all_inner_texts()
    assert texts == [f"earlier message {n:02d}" for n in range(40)]
    expect(log.get_by_text("earlier message 39")).to_be_in_viewport()
    expect(log.get_by_text("earlier message 00")).not_to_be_in_viewport()


def test_history_stays_at_the_newest_message_while_thumbnails_load(open_app, reference_server, conversation):
    api = Api(reference_server.url)
    for n in range(12):
        api.send(conversation, text=f"photo {n}", files=[(f"photo-{n}.png", files.png_bytes(400, 300), "image/png")])
    api.send(conversation, text="the newest message")
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    page.wait_for_function("[...document.querySelectorAll('#history img')].slice(-3).every(i => i.complete && i.naturalWidth > 0)")
    expect(log.get_by_text("the newest message")).to_be_in_viewport()


def test_composer_has_message_box_attach_and_send(open_app):
    page = open_app("agent")
    message, attach_button, send = composer_parts(page)
    expect(message).to_be_editable()
    expect(attach_button).to_be_enabled()
    expect(send).to_be_visible()


def test_attach_opens_the_os_file_picker_with_accept_from_restrictions(open_app):
    page = open_app("agent")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    element = chooser.value.element
    assert element.get_attribute("type") == "file"
    accept = element.get_attribute("accept")
    assert accept is not None and "image/*" in accept and ".pdf" in accept


def test_chosen_file_is_previewed_with_name_size_and_can_be_removed(open_app, tmp_path):
    page = open_app("agent")
    attach(page, files.sized(tmp_path, "report.pdf", 2_400_000, files.PDF))
    staged = page.get_by_role("group", name="Attachment report.pdf")
    expect(staged).to_contain_text("report.pdf")
    expect(staged).to_contain_text("2.4 MB")
    attach(page, files.write(tmp_path, "photo.png", files.png_bytes()))
    image_staged = page.get_by_role("group", name="Attachment photo.png")
    expect(image_staged.locator("img")).to_be_visible()
    expect(staged).to_have_count(0)  # one attachment per message: the new one replaced it
    page.get_by_role("button", name="Remove attachment").click()
    expect(image_staged).to_have_count(0)
    expect(page.get_by_role("button", name="Send")).to_be_disabled()


def test_send_delivers_file_and_text_as_one_message(open_app, reference_server, conversation, tmp_path):
    page = open_app("agent")
    attach(page, files.write(tmp_path, "invoice.pdf", files.PDF))
    page.get_by_role("textbox", name="Message").fill("Here is your invoice")
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    delivered = log.locator("article:not(.pending)")
    expect(delivered).to_have_count(1)
    expect(delivered).to_contain_text("Here is your invoice")
    expect(delivered.get_by_role("link", name=re.compile("invoice.pdf"))).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")
    history = Api(reference_server.url).history(conversation)
    assert len(history) == 1
    assert history[0]["text"] == "Here is your invoice"
    assert [a["name"] for a in history[0]["attachments"]] == ["invoice.pdf"]
    assert history[0]["sender"] == "agent"


def test_refused_files_are_named_with_the_rule_before_any_upload(open_app, tmp_path):
    page = open_app("agent")
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if "/api/uploads" in r.url else None)
    cases = [
        (files.sized(tmp_path, "movie.png", 120_000_000, files.png_bytes()), "movie.png is 120 MB; the limit is 25 MB"),
        (files.write(tmp_path, "setup.exe", files.EXE), "setup.exe: this type is not accepted"),
        (files.write(tmp_path, "empty.txt", b""), "empty.txt is empty"),
        (files.write(tmp_path, "invoice.pdf", b"#!/bin/sh\nrm -rf ~\n"),
         "invoice.pdf: its content is not what its name says (it looks like text)"),
        (files.write(tmp_path, "holiday.png", files.EXE), "holiday.png"),
    ]
    for path, text in cases:
        attach(page, path)
        expect(page.get_by_role("alert")).to_contain_text(text)  # one notice: the newest replaces the last
    expect(page.get_by_role("alert").filter(has_text="holiday.png")).to_contain_text("not")
    expect(page.locator("#staged .staged-file")).to_have_count(0)
    assert uploads == []


def test_history_previews_open_safe_files_and_download_others(open_app, reference_server, conversation):
    api = Api(reference_server.url)
    api.send(conversation, text="photo", files=[("sunset.png", files.png_bytes(), "image/png")])
    api.send(conversation, text="pdf", files=[("terms.pdf", files.PDF, "application/pdf")])
    api.send(conversation, text="doc", files=[("letter.docx", files.DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document")])
    api.send(conversation, text="svg", files=[("logo.svg", files.SVG_WITH_SCRIPT, "image/svg+xml")])
    page = open_app("agent")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log = page.get_by_role("log", name="Conversation")

    thumbnail = log.get_by_role("img", name="sunset.png")
    expect(thumbnail).to_be_visible()
    page.wait_for_function("[...document.images].some(i => i.alt === 'sunset.png' && i.naturalWidth === 48)")

    with page.expect_popup() as popup:
        log.get_by_role("link", name=re.compile("terms.pdf")).click()
    assert "/media/" in popup.value.url

    with page.expect_download() as download:
        log.get_by_role("link", name=re.compile("letter.docx")).click()
    assert download.value.suggested_filename == "letter.docx"

    svg_link = log.get_by_role("link", name=re.compile("logo.svg"))
    expect(svg_link).to_have_attribute("download", "logo.svg")
    expect(log.locator("img[alt='logo.svg']")).to_have_count(0)
    with page.expect_download() as download:
        svg_link.click()
    assert download.value.suggested_filename == "logo.svg"
    page.wait_for_timeout(300)  # the subject, not a synchronisation: no script of the SVG runs meanwhile
    assert dialogs == []


def test_failed_send_keeps_file_and_text_and_retry_sends_once(open_app, reference_server, conversation, tmp_path):
    page = open_app("agent")
    failures = {"left": 1}

    def fail_once(route):
        if failures["left"]:
            failures["left"] -= 1
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/conversations/*/messages", lambda route: fail_once(route) if route.request.method == "POST" else route.continue_())
    attach(page, files.write(tmp_path, "contract.pdf", files.PDF))
    page.get_by_role("textbox", name="Message").fill("Signed contract")
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    warning = log.get_by_role("alert")
    expect(warning).to_contain_text("Not sent")
    failed = log.locator("article.failed")
    expect(failed).to_contain_text("Signed contract")
    expect(failed).to_contain_text("contract.pdf")
    log.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").filter(has_text="Signed contract")).to_have_count(1)
    expect(failed).to_have_count(0)
    history = Api(reference_server.url).history(conversation)
    assert [m["text"] for m in history] == ["Signed contract"]


def test_upload_failure_then_retry_resumes_and_shows_progress(open_app, reference_server, conversation, tmp_path):
    page = open_app("agent")
    state = {"patches": 0, "offsets": []}
    failing = range(2, 2 + POLICY.retries + 1)  # the second chunk and every automatic retry of it

    def flaky_upload(route):
        if route.request.method == "PATCH":
            state["patches"] += 1
            state["offsets"].append(int(route.request.headers.get("upload-offset", "-1")))
            if state["patches"] in failing:
                route.abort("failed")
                return
        route.continue_()

    page.route("**/api/uploads/**", flaky_upload)
    attach(page, files.sized(tmp_path, "scan.png", 20_000_000, files.png_bytes()))
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_role("alert")).to_contain_text("Not sent", timeout=20_000)
    expect(log.locator("article.failed progress")).to_have_count(0)
    log.get_by_role("button", name="Retry").click()
    expect(log.get_by_role("progressbar", name="Upload progress").or_(log.locator("article:not(.pending) img[alt='scan.png']"))).to_have_count(1)
    expect(log.locator("article:not(.pending) img[alt='scan.png']")).to_be_visible(timeout=30_000)
    history = Api(reference_server.url).history(conversation)
    assert len(history) == 1 and history[0]["attachments"][0]["size"] == 20_000_000
    after_retry = state["offsets"][failing.stop - 1:]
    assert after_retry and after_retry[0] > 0, state["offsets"]  # resumed where the server stood, not from 0


def test_remove_attachment_discards_a_failed_message(open_app, tmp_path):
    page = open_app("agent")
    page.route("**/api/uploads", lambda route: route.fulfill(status=503, body="busy"))
    attach(page, files.write(tmp_path, "draft.pdf", files.PDF))
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_role("alert")).to_be_visible(timeout=20_000)
    log.get_by_role("button", name="Remove attachment").click()
    expect(log.locator("article")).to_have_count(0)


def drop_file_script(target: str) -> str:
    return f"""async ([name, type, b64]) => {{
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {{ type }}));
        const target = {target};
        target.dispatchEvent(new DragEvent('dragenter', {{ bubbles: true, cancelable: true, dataTransfer: dt }}));
        target.dispatchEvent(new DragEvent('dragover', {{ bubbles: true, cancelable: true, dataTransfer: dt }}));
        const shown = !document.getElementById('drop-overlay').hidden;
        target.dispatchEvent(new DragEvent('drop', {{ bubbles: true, cancelable: true, dataTransfer: dt }}));
        return shown;
    }}"""


def test_drop_anywhere_and_paste_stage_files_with_the_same_checks(open_app):
    import base64

    page = open_app("agent")
    png = base64.b64encode(files.png_bytes()).decode()
    shown = page.evaluate(drop_file_script("document.getElementById('history')"), ["dropped.png", "image/png", png])
    assert shown, "the drop target was not shown while dragging"
    expect(page.get_by_role("group", name="Attachment dropped.png")).to_be_visible()

    exe = base64.b64encode(files.EXE).decode()
    page.evaluate(drop_file_script("document.querySelector('header')"), ["tool.exe", "application/x-msdownload", exe])
    expect(page.get_by_role("alert").filter(has_text="tool.exe: this type is not accepted")).to_be_visible()

    page.get_by_role("textbox", name="Message").focus()
    page.evaluate(
        """([b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }));
            document.getElementById('message').dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: dt }));
        }""",
        [png],
    )
    expect(page.get_by_role("group", name="Attachment pasted.png")).to_be_visible()


def test_agent_and_customer_see_each_other_live(open_app, tmp_path):
    agent = open_app("agent")
    customer = open_app("customer")
    agent.get_by_role("textbox", name="Message").fill("Hello from support")
    agent.get_by_role("textbox", name="Message").press("Enter")
    expect(customer.get_by_role("log", name="Conversation")).to_contain_text("Hello from support", timeout=3000)
    with customer.expect_file_chooser() as chooser:
        customer.get_by_role("button", name="Attach file").click()
    chooser.value.set_files(str(files.write(tmp_path, "receipt.png", files.png_bytes())))
    customer.get_by_role("button", name="Send").click()
    expect(agent.get_by_role("log", name="Conversation").get_by_role("img", name="receipt.png")).to_be_visible(timeout=3000)
    expect(agent.get_by_role("log", name="Conversation").locator("article.theirs")).to_have_count(1)


def test_user_supplied_text_and_names_are_escaped(open_app, reference_server, conversation):
    hostile_name = '<img src=x onerror="window.__pwned=1">.txt'
    hostile_text = '<script>window.__pwned=2</script><b>bold?</b>'
    Api(reference_server.url).send(conversation, text=hostile_text, files=[(hostile_name, b"plain text", "text/plain")])
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_contain_text(hostile_text)
    expect(log).to_contain_text(hostile_name)
    assert log.locator("b, script, img[src=x]").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_keyboard_alone_attaches_writes_and_sends(open_app, tmp_path):
    page = open_app("agent")
    page.get_by_role("textbox", name="Message").focus()
    # Playwright turns file-chooser interception on asynchronously: start waiting
    # before moving the focus, so a quick Enter cannot beat it.
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Shift+Tab")
        expect(page.get_by_role("button", name="Attach file")).to_be_focused()
        page.keyboard.press("Enter")
    chooser.value.set_files(str(files.write(tmp_path, "notes.txt", b"meeting notes\n")))
    expect(page.get_by_role("group", name="Attachment notes.txt")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("textbox", name="Message")).to_be_focused()
    page.keyboard.type("Notes attached")
    page.keyboard.press("Enter")
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article:not(.pending)").filter(has_text="Notes attached")).to_contain_text("notes.txt")


def test_scrolling_up_to_read_is_not_interrupted_by_new_messages(open_app, reference_server, conversation):
    api = Api(reference_server.url)
    for n in range(40):
        api.send(conversation, text=f"older {n:02d}")
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_text("older 39")).to_be_in_viewport()
    log.hover()
    page.mouse.wheel(0, -100_000)
    expect(log.get_by_text("older 00")).to_be_in_viewport()
    api.send(conversation, text="a new message arrives")
    expect(log).to_contain_text("a new message arrives")
    next_frame(page)         # the history's observers have seen the new block, far below the view:
    expect(log).to_contain_text("a new message arrives")     # still in the log (announced), not a spacer
    expect(log.get_by_text("older 00")).to_be_in_viewport()


def test_links_in_messages_open_in_a_new_tab(open_app, reference_server, conversation):
    Api(reference_server.url).send(conversation, text=f"Track it at {reference_server.url}/static/attache.css.")
    page = open_app("agent")
    link = page.get_by_role("log", name="Conversation").get_by_role("link", name=f"{reference_server.url}/static/attache.css")
    with page.expect_popup() as popup:
        link.click()
    assert popup.value.url == f"{reference_server.url}/static/attache.css"


def test_messages_that_arrive_while_the_tab_is_hidden_are_counted_in_its_title(open_app, reference_server, conversation):
    page = open_app("agent")
    title = page.title()
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    api = Api(reference_server.url)
    api.send(conversation, text="are you there?")
    api.send(conversation, text="hello?")
    expect(page).to_have_title(f"(2) {title}")
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    expect(page).to_have_title(title)


COUNT_OBJECT_URLS = """() => {
    window.__objectUrls = 0;
    const create = URL.createObjectURL;
    URL.createObjectURL = (blob) => { window.__objectUrls += 1; return create(blob); };
}"""


def test_previews_follow_the_content_not_the_declared_type(open_app):
    import base64

    page = open_app("agent")
    page.evaluate(COUNT_OBJECT_URLS)
    svg = base64.b64encode(files.SVG_WITH_SCRIPT).decode()
    page.evaluate(drop_file_script("document.getElementById('history')"), ["logo.svg", "image/svg+xml", svg])
    expect(page.get_by_role("group", name="Attachment logo.svg")).to_be_visible()
    assert page.evaluate("window.__objectUrls") == 0  # never drawn, so never given a URL
    png = base64.b64encode(files.png_bytes()).decode()
    page.evaluate(drop_file_script("document.getElementById('history')"), ["screenshot", "", png])
    staged = page.get_by_role("group", name="Attachment screenshot")
    expect(staged.locator("img")).to_be_visible()
    assert page.evaluate("window.__objectUrls") == 1


def test_a_delivered_message_lets_go_of_its_files(open_app):
    import base64

    page = open_app("agent")
    png = base64.b64encode(files.png_bytes()).decode()
    page.get_by_role("textbox", name="Message").focus()
    page.evaluate(
        """([b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
            document.getElementById('message').dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: dt }));
        }""",
        [png],
    )
    expect(page.get_by_role("group", name="Attachment image.png")).to_be_visible()
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article:not(.pending)").get_by_role("img", name="image.png")).to_be_visible()
    page.get_by_role("textbox", name="Message").fill("and some words")
    page.get_by_role("button", name="Send").click()
    expect(log.locator("article:not(.pending)")).to_have_count(2)
    # Nothing of a delivered message is held: no outbox entry (with its File), no object URL.
    page.wait_for_function("() => { const d = attacheDiagnostics(); return d.outbox === 0 && d.object_urls === 0; }")
