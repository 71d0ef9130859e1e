"""app.core.links: telling expiring media links apart and knowing when to renew them."""
from __future__ import annotations

from app.core.links import expiry, file_key, fresh_links, next_check
from app.core.models import Attachment, Message

LINK = "https://chat.example/media/ab12/r%C3%A9sum%C3%A9.pdf?c=c1&e=1700000400&sig=0f0f"


def message(*urls: str) -> Message:
    return Message(id="m", seq=1, sender="u", text="", created_at="2026-01-01T00:00:00Z",
                   attachments=tuple(Attachment(f"a{i}", "f", 1, "image/png", u) for i, u in enumerate(urls)))


def test_a_link_is_known_by_what_it_points_at():
    assert file_key(LINK) == "https://chat.example/media/ab12/r%C3%A9sum%C3%A9.pdf"
    assert file_key("/media/x/y.png?c=1&e=2#frag") == file_key("/media/x/y.png?c=1&e=3&sig=zz") == "/media/x/y.png"


def test_the_expiry_is_the_e_parameter():
    assert expiry(LINK) == 1700000400
    for url in ("/media/x/y", "/media/x/y?e=", "/media/x/y?e=soon", "/media/x/y?e=1&e=2", "/media/x/y?e=%C2%B2",
                "/media/x/y?e=" + "9" * 13):
        assert expiry(url) is None


def test_fresh_links_map_each_file_to_its_new_url():
    new = "/media/ab/c.png?c=c1&e=200&sig=new"
    assert fresh_links([message(new, "/media/cd/e.txt?e=200"), message()]) == {
        "/media/ab/c.png": new, "/media/cd/e.txt": "/media/cd/e.txt?e=200"}


def test_links_without_expiry_are_never_renewed():
    assert next_check(["/media/a/b.png", "https://elsewhere.example/x.png"], now=0) is None
    assert next_check([], now=0) is None


def test_an_hour_link_is_renewed_a_minute_before_the_first_one_ends():
    assert next_check(["/m/a?e=4600", "/m/b?e=5000", "/m/c"], now=1000) == 3540


def test_a_short_link_is_renewed_when_half_its_time_is_left():
    assert next_check(["/m/a?e=1010"], now=1000) == 5


def test_an_expired_link_is_renewed_at_once():
    assert next_check(["/m/a?e=900"], now=1000) == 0


def test_fresh_links_cover_thumbnails_too():
    thumb = "/thumbnails/ab?c=c1&e=200&sig=new"
    message = Message("m1", 1, "agent", "", (Attachment("u1", "a.png", 3, "image/png", "/media/ab/a.png?e=200&sig=x",
                                                    thumbnail_url=thumb),), "2026-11-25T10:00:00Z")
    assert fresh_links([message])["/thumbnails/ab"] == thumb
