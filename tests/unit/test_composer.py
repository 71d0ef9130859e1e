"""composer: what the user writes and stages, fed events, read back as state."""

import pytest

from app.core.composer import Composer, Draft, Staged
from app.core.models import FileInfo
from app.core.restrictions import Restrictions
from tests.files import EXE, PNG_HEAD as PNG


ONE = Restrictions(max_file_size=1_000_000, accepted_types=("image/*", ".pdf"))
THREE = Restrictions(max_file_size=1_000_000, max_files_per_message=3)


def png(name: str = "photo.png", size: int = 1000) -> FileInfo:
    return FileInfo(name, size, "image/png", PNG)


def test_a_new_composer_is_empty_and_cannot_send():
    c = Composer(ONE)
    assert (c.text, c.staged, c.state, c.can_send) == ("", (), "empty", False)
    assert c.take() is None


def test_blank_text_cannot_be_sent_but_words_can():
    c = Composer(ONE)
    c.set_text("  \n\t ")
    assert c.can_send is False and c.take() is None
    c.set_text("  hello\n")
    assert c.can_send is True
    assert c.state == "empty"  # "staged" is about files


def test_take_returns_the_draft_and_clears():
    c = Composer(ONE)
    c.set_text("  see attached \n")
    handle = object()
    assert c.stage(png(), handle) == []
    assert c.state == "staged"
    draft = c.take()
    assert draft == Draft("see attached", (Staged(png(), handle),))
    assert draft.files[0].handle is handle
    assert (c.text, c.staged, c.state, c.can_send) == ("", (), "empty", False)


def test_a_file_alone_can_be_sent():
    c = Composer(ONE)
    c.stage(png(), "h")
    assert c.can_send is True
    assert c.take() == Draft("", (Staged(png(), "h"),))


def test_with_one_file_per_message_staging_again_replaces():
    c = Composer(ONE)
    c.stage(png("a.png"), "a")
    assert c.stage(png("b.png"), "b") == []
    assert [s.info.name for s in c.staged] == ["b.png"]


def test_a_refused_file_keeps_the_staged_one():
    c = Composer(ONE)
    c.stage(png("a.png"), "a")
    problems = c.stage(FileInfo("setup.exe", 1000, "", EXE), "x")
    assert [p.code for p in problems] == ["type_not_accepted"]
    problems = c.stage(png("huge.png", 2_000_000), "y")
    assert [p.message for p in problems] == ["huge.png is 2.0 MB; the limit is 1 MB"]
    assert [s.handle for s in c.staged] == ["a"]


def test_a_renamed_program_is_never_staged():
    c = Composer(ONE)
    assert [p.code for p in c.stage(FileInfo("photo.png", 1000, "image/png", EXE), "x")] == ["type_mismatch"]
    assert c.staged == ()


def test_several_files_up_to_the_limit():
    c = Composer(THREE)
    for name in ("a.png", "b.png", "c.png"):
        assert c.stage(png(name), name) == []
    [problem] = c.stage(png("d.png"), "d")
    assert problem.code == "too_many_files"
    assert problem.message == "d.png: a message can carry at most 3 files"
    assert [s.handle for s in c.staged] == ["a.png", "b.png", "c.png"]


def test_remove_by_index():
    c = Composer(THREE)
    for name in ("a.png", "b.png", "c.png"):
        c.stage(png(name), name)
    c.remove(1)
    assert [s.handle for s in c.staged] == ["a.png", "c.png"]
    c.remove()
    assert [s.handle for s in c.staged] == ["c.png"]
    c.remove(0)
    assert c.state == "empty"
    with pytest.raises(IndexError):
        c.remove(0)


def test_new_restrictions_apply_to_the_next_file():
    c = Composer(Restrictions())
    assert c.stage(FileInfo("a.exe", 10, "", EXE), "x") == []
    c.restrictions = ONE
    assert [p.code for p in c.stage(FileInfo("b.exe", 10, "", EXE), "y")] == ["type_not_accepted"]
