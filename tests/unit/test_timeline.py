"""app.core.timeline: pages as blocks, live messages once and in order, hidden blocks dropping their messages."""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from app.core.models import Message
from app.core.timeline import LIVE_BLOCK, Timeline


def msg(seq: int, key: str = "") -> Message:
    return Message(id=f"m{seq}", seq=seq, sender="agent", text=f"#{seq}", attachments=(),
                   created_at="2026-11-25T15:04:05Z", idempotency_key=key)


@dataclass
class Page:
    messages: tuple[Message, ...]
    older: str | None = None


def page(first: int, last: int, older: str | None = None) -> Page:
    return Page(tuple(msg(s) for s in range(first, last + 1)), older)


def seqs(timeline: Timeline) -> list[int]:
    return [m.seq for b in timeline.blocks for m in b.messages or ()]


def test_the_newest_page_then_older_pages_before_it():
    t = Timeline()
    newest = t.start(page(201, 300, older="201"))
    assert newest.token is None and not newest.live and not t.at_start and not t.paged
    older = t.prepend("201", page(101, 200, older="101"))
    assert t.blocks == [older, newest] and older.token == "201" and t.older == "101" and t.paged
    first = t.prepend("101", page(1, 100))
    assert t.at_start and t.blocks[0] is first and seqs(t) == list(range(1, 301))
    assert len({b.key for b in t.blocks}) == 3


def test_an_empty_conversation_has_no_block_and_is_at_its_start():
    t = Timeline()
    assert t.start(Page(())) is None and t.at_start and t.blocks == [] and t.last_seq() is None


def test_live_messages_go_once_into_live_blocks_at_the_end():
    t = Timeline()
    t.start(page(1, 10))
    block, before = t.add(msg(11, "k11"))
    assert block.live and block.token is None and before is None and t.blocks[-1] is block
    assert t.add(msg(11, "k11")) is None                       # the POST answer and the event: shown once
    assert t.add(msg(5)) is None                               # already in the newest page
    assert t.add(msg(12))[0] is block and t.last_seq() == 12
    assert t.recent_keys() == {"k11"}


def test_a_message_older_than_the_newest_page_is_not_shown_out_of_place():
    t = Timeline()
    t.start(page(101, 200, older="101"))
    assert t.add(msg(50)) is None and seqs(t) == list(range(101, 201))


def test_an_overtaken_message_takes_its_place():
    t = Timeline()
    t.start(page(1, 10))
    t.add(msg(14))
    block, before = t.add(msg(12))
    assert before.seq == 14 and seqs(t) == [*range(1, 11), 12, 14]
    block, before = t.add(msg(13))
    assert before.seq == 14 and seqs(t)[-3:] == [12, 13, 14]


def test_live_blocks_are_bounded_so_a_long_session_is_virtualised_too():
    t = Timeline()
    t.start(page(1, 1))
    for s in range(2, 2 + LIVE_BLOCK + 1):
        t.add(msg(s))
    assert [len(b.messages) for b in t.blocks] == [1, LIVE_BLOCK, 1]


def test_only_the_newest_live_block_stays_shown_wherever_the_reader_is():
    t = Timeline()
    newest = t.start(page(1, 3))
    first_live, _ = t.add(msg(4))
    assert t.stays_shown(first_live) and not t.stays_shown(newest)
    for s in range(5, 5 + LIVE_BLOCK):
        t.add(msg(s))
    assert not t.stays_shown(first_live) and t.stays_shown(t.blocks[-1]) and t.blocks[-1] is not first_live


def test_hidden_blocks_drop_their_messages_beyond_the_cache_and_come_back():
    t = Timeline(keep_hidden=2)
    newest = t.start(page(301, 400, older="301"))
    b3, b2, b1 = (t.prepend(str(f + 100), page(f, f + 99, older=str(f) if f > 1 else None)) for f in (201, 101, 1))
    for b in (newest, b3, b2, b1):
        t.shown(b)
    assert t.hidden(newest, 900.0) == []                       # the newest page is never dropped
    assert t.hidden(b3, 1000.0) == [] and t.hidden(b2, 1100.0) == []
    assert t.hidden(b1, 1200.0) == [b3]                        # the least recently hidden goes
    assert b3.messages is None and b3.height == 1000.0 and not b3.shown and newest.messages
    assert t.loaded() == 300
    t.shown(b2)                                                # near again: out of the cache
    assert t.hidden(b2, 1100.0) == [] and b1.messages is not None
    t.refill(b3, page(201, 300))
    assert seqs(t) == list(range(1, 401)) and t.find(b3.key) is b3 and t.find(-1) is None


def test_an_older_page_repeating_kept_messages_adds_only_the_new_ones():
    t = Timeline()
    t.start(page(5, 9, older="5"))
    block = t.prepend("5", Page((msg(3), msg(4), msg(5))))
    assert [m.seq for m in block.messages] == [3, 4] and seqs(t) == [3, 4, 5, 6, 7, 8, 9]
    assert t.prepend("3", Page((msg(5),))) is None


@given(st.lists(st.integers(1, 60), max_size=80), st.integers(0, 30))
def test_whatever_arrives_in_whatever_order_is_shown_once_and_in_order(arrivals, newest_page):
    t = Timeline()
    t.start(page(1, newest_page) if newest_page else Page(()))
    for s in arrivals:
        t.add(msg(s))
    shown = seqs(t)
    assert shown == sorted(set(shown))
    assert set(shown) == set(range(1, newest_page + 1)) | set(arrivals)


def test_fresh_copies_replace_held_messages_wherever_they_are():
    t = Timeline()
    t.start(page(11, 20, older="11"))
    t.prepend("11", page(1, 10))
    t.add(msg(21))
    fresh = [Message(**{**msg(s).__dict__, "text": f"fresh {s}"}) for s in (5, 15, 21, 99)]
    assert t.update(fresh) == 3
    texts = [m.text for b in t.blocks for m in b.messages]
    assert texts[4] == "fresh 5" and texts[14] == "fresh 15" and texts[20] == "fresh 21" and len(texts) == 21
    assert t.update(fresh) == 0
