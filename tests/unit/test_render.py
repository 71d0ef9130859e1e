"""The HTML the canvas shows: every user-supplied string is escaped."""
from __future__ import annotations

import re

from hypothesis import given, strategies as st

from app import render
from app.core.composer import Draft, Staged
from app.core.models import Attachment, FileInfo, Message, Problem
from app.core.outbox import Outbox
from tests.files import PNG_HEAD as PNG

NAMES = {"agent": "Agent", "customer": "Customer"}


def message(text="", attachments=(), sender="customer", seq=1):
    return Message(id=f"m{seq}", seq=seq, sender=sender, text=text, attachments=tuple(attachments),
                   created_at="2026-11-25T15:04:05Z", idempotency_key=f"k{seq}")


def attachment(name, content_type, size=2_400_000):
    return Attachment(id="abc", name=name, size=size, content_type=content_type, url=f"/media/abc/{name}?sig=1")


def test_hostile_text_and_names_come_out_as_text():
    html = render.messages_html(
        [message('<script>alert(1)</script>', [attachment('<img src=x onerror=alert(2)>.pdf', "application/pdf")])],
        "agent", NAMES)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;.pdf" in html


@given(st.text() | st.builds(lambda a, b: f"{a} https://{b}", st.text(), st.text()))
def test_no_text_can_open_a_tag_but_a_web_link(text):
    html = render.messages_html([message(text)], "agent", NAMES)
    body = html.split('<p class="text">', 1)[1].split("</p>", 1)[0] if text.strip() else ""
    tags = re.findall(r"<[^>]*>", body)
    assert all(re.fullmatch(r'<a href="https?://[^"<>]*" target="_blank" rel="noopener noreferrer nofollow">|</a>', t)
               for t in tags), tags


def test_web_addresses_become_links_and_nothing_else_does():
    html = str(render.linkify('see https://example.com/a?b=1&c=2. or javascript:alert(1) <b>'))
    assert html == ('see <a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">'
                    'https://example.com/a?b=1&amp;c=2</a>. or javascript:alert(1) &lt;b&gt;')
    assert '"' not in str(render.linkify('https://x.y/"onmouseover="alert(1)')).split('href="', 1)[1].split('"', 1)[0]


def test_times_are_on_the_readers_clock():
    html = render.messages_html([message("hi")], "agent", NAMES, utc_offset_minutes=120, now="2026-11-26T10:00:00Z")
    assert "25 Nov 17:04" in html


def test_raster_images_are_thumbnails_that_open_in_a_new_tab():
    html = render.messages_html([message(attachments=[attachment("cat.png", "image/png")])], "agent", NAMES)
    assert re.search(r'<a class="thumb" href="/media/abc/cat.png\?sig=1" target="_blank" rel="noopener noreferrer"', html)
    assert '<img src="/media/abc/cat.png?sig=1" alt="cat.png"' in html


def test_svg_and_html_are_never_shown_inline_but_downloaded():
    for name, content_type in (("logo.svg", "image/svg+xml"), ("page.html", "text/html")):
        html = render.messages_html([message(attachments=[attachment(name, content_type)])], "agent", NAMES)
        assert "<img" not in html
        assert f'download="{name}"' in html and 'target="_blank"' not in html


def test_cards_name_size_and_type():
    html = render.messages_html([message(attachments=[attachment("terms.pdf", "application/pdf")])], "agent", NAMES)
    assert "terms.pdf" in html and "2.4 MB" in html and "PDF document" in html and 'target="_blank"' in html


def test_own_messages_are_mine_and_others_carry_their_name():
    html = render.messages_html([message("hi", sender="agent", seq=1), message("hello", seq=2)], "agent", NAMES)
    assert 'class="msg mine"' in html and 'class="msg theirs"' in html
    assert "You · " in html and "Customer · " in html and "15:04" in html


def test_a_failed_message_offers_retry_and_remove_attachment():
    outbox = Outbox()
    item = outbox.add(Draft("see attached", (Staged(FileInfo("a.pdf", 10, "application/pdf", b"%PDF-"), None),)))
    outbox.next_step(item.local_id)
    outbox.on_failed(item.local_id, Problem("network", "Could not reach the server.", "Check your connection, then retry."))
    html = render.pending_html(outbox.get(item.local_id), {})
    assert 'role="alert"' in html and "Could not reach the server." in html
    assert ">Retry</button>" in html and ">Remove attachment</button>" in html and "<progress" not in html


def test_an_uploading_message_shows_its_progress_and_can_be_cancelled():
    outbox = Outbox()
    item = outbox.add(Draft("", (Staged(FileInfo("a.pdf", 1000, "application/pdf", b"%PDF-"), None),)))
    outbox.next_step(item.local_id)
    outbox.on_progress(item.local_id, 0, 450)
    html = render.pending_html(outbox.get(item.local_id), {})
    assert '<progress max="100" value="45" aria-label="Upload progress">' in html
    assert "Uploading… 45%" in html and ">Cancel</button>" in html


def test_staged_preview_and_notice():
    html = render.staged_html([FileInfo("photo.png", 2_400_000, "image/png", b"\x89PNG\r\n\x1a\n")], {0: "blob:x"})
    assert 'aria-label="Attachment photo.png"' in html and "2.4 MB" in html and 'src="blob:x"' in html
    assert 'aria-label="Remove attachment"' in html
    notice = render.notice_html(7, Problem("too_large", "<b>x</b> is 120 MB; the limit is 25 MB"))
    assert 'role="alert"' in notice and "&lt;b&gt;x&lt;/b&gt;" in notice


def failed(*infos: FileInfo, text: str = ""):
    outbox = Outbox()
    item = outbox.add(Draft(text, tuple(Staged(info, None) for info in infos)))
    outbox.next_step(item.local_id)
    outbox.on_failed(item.local_id, Problem("network", "Could not reach the server."))
    return outbox.get(item.local_id)


def test_a_failed_message_with_several_files_offers_to_remove_each_by_name():
    html = render.pending_html(failed(FileInfo("a.png", 10, "", PNG), FileInfo("<b>.pdf", 10, "", b"%PDF-")), {})
    buttons = re.findall(r'<button [^>]*data-action="remove-attachment"[^>]*>[^<]*</button>', html)
    assert len(buttons) == 2
    assert 'data-index="0"' in buttons[0] and buttons[0].endswith(">Remove a.png</button>")
    assert 'data-index="1"' in buttons[1] and buttons[1].endswith(">Remove &lt;b&gt;.pdf</button>")


def test_a_failed_message_with_one_file_says_remove_attachment_and_one_without_says_discard():
    assert re.search(r'data-index="0">Remove attachment</button>', render.pending_html(failed(FileInfo("a.png", 10, "", PNG)), {}))
    html = render.pending_html(failed(text="words"), {})
    assert ">Discard message</button>" in html and "remove-attachment" not in html




def test_previews_are_decided_on_the_content_not_the_declared_type():
    assert render.wants_preview(FileInfo("screenshot", 100, "", PNG))  # no extension, empty File.type
    assert render.wants_preview(FileInfo("photo.jpg", 100, "image/jpeg", PNG))
    assert not render.wants_preview(FileInfo("logo.svg", 100, "image/svg+xml", b"<svg></svg>"))
    assert not render.wants_preview(FileInfo("photo.png", 100, "image/png", b"<svg onload=x>"))
    assert not render.wants_preview(FileInfo("notes.txt", 100, "text/plain", b"hello"))


def test_protected_media_give_the_browser_no_url_to_follow():
    """Matrix media need the bearer token: the page fetches them and shows blob: URLs instead."""
    cat, doc = attachment("cat.png", "image/png"), attachment("doc.svg", "image/svg+xml")
    html = render.messages_html([message("x", [cat, doc])], "agent", NAMES, protected_media=True)
    assert "src=" not in html and "download=" not in html and 'target="_blank"' not in html
    assert '<a class="thumb" href="/media/abc/cat.png?sig=1" data-protected="0"' in html
    assert '<img data-protected="0" alt="cat.png"' in html
    assert '<a class="file-card" href="/media/abc/doc.svg?sig=1" data-protected="1" title="Download doc.svg"' in html


def test_notes_are_said_in_words_and_senders_by_the_name_the_backend_gives():
    note = Message(id="$e1", seq=1, sender="@element:localhost", text="A sticker — not supported here.",
                   attachments=(), created_at="2026-11-25T15:04:05Z", sender_name="Elena <Element>", kind="unsupported")
    html = render.messages_html([note], "@agent:localhost", NAMES)
    assert '<article class="msg theirs note" id="msg-$e1" data-seq="1" data-kind="unsupported"' in html
    assert "A sticker — not supported here." in html and "Elena &lt;Element&gt; ·" in html
    mine = render.messages_html([message("hi", sender="@agent:localhost")], "@agent:localhost", NAMES)
    assert 'class="msg mine"' in mine and "You ·" in mine
    assert "Customer ·" in render.messages_html([message("hi")], "agent", NAMES)  # the page's names first
