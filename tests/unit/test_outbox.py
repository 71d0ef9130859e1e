"""outbox: the send queue as a state machine, driven the way the browser shell drives it."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.composer import Draft, Staged
from app.core.models import FileInfo, Message, Problem, Uploaded
from app.core.outbox import Outbox, Outgoing, PostMessage, Status, UploadFile

NETWORK = Problem("network", "The connection was lost.", "Retry.")


def counter():
    numbers = itertools.count(1)
    return lambda: f"id{next(numbers)}"


def staged(name: str, size: int) -> Staged:
    return Staged(FileInfo(name, size, "image/png", b"\x89PNG\r\n\x1a\n"), handle=name)


def done(ref: str) -> Uploaded:
    """A finished upload as the uploader reports it."""
    return Uploaded(ref, FileInfo(f"{ref}.png", 1, "image/png"), "image/png")


def message(key: str, text: str = "hi", seq: int = 1) -> Message:
    return Message(f"m{seq}", seq, "agent", text, (), "2026-11-25T15:04:05Z", key)


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(new_id=counter())


def test_add_queues_a_message_with_its_own_key(outbox):
    item = outbox.add(Draft("hello", (staged("a.png", 100),)))
    assert item == Outgoing("id1", "id2", "hello", (staged("a.png", 100),))
    assert (item.status, item.progress, item.uploaded, item.problem, item.message) == (Status.QUEUED, 0.0, {}, None, None)
    assert outbox.get("id1") is item
    assert outbox.pending() == [item]


def test_default_ids_are_unique():
    box = Outbox()
    a, b = box.add(Draft("a", ())), box.add(Draft("b", ()))
    assert len({a.local_id, a.idempotency_key, b.local_id, b.idempotency_key}) == 4


def test_an_empty_draft_is_refused(outbox):
    with pytest.raises(ValueError):
        outbox.add(Draft("  ", ()))


def test_text_only_goes_straight_to_posting(outbox):
    item = outbox.add(Draft("hello", ()))
    assert outbox.next_step(item.local_id) == PostMessage(())
    assert item.status == Status.SENDING
    outbox.on_sent(item.local_id, message(item.idempotency_key))
    assert (item.status, item.progress, item.message.text) == (Status.SENT, 1.0, "hi")
    assert outbox.next_step(item.local_id) is None
    assert outbox.pending() == []


def test_full_flow_with_two_files_and_progress_over_all_bytes(outbox):
    item = outbox.add(Draft("two", (staged("a.png", 300), staged("b.png", 100))))
    lid = item.local_id
    assert outbox.next_step(lid) == UploadFile(0)
    assert item.status == Status.UPLOADING
    outbox.on_progress(lid, 0, 150)
    assert item.progress == pytest.approx(150 / 400)
    outbox.on_progress(lid, 0, 10_000)  # never beyond the file
    assert item.progress == pytest.approx(300 / 400)
    outbox.on_uploaded(lid, 0, done("up-a"))
    assert outbox.next_step(lid) == UploadFile(1)
    outbox.on_progress(lid, 1, 50)
    assert item.progress == pytest.approx(350 / 400)
    outbox.on_uploaded(lid, 1, done("up-b"))
    assert item.progress == 1.0
    assert outbox.next_step(lid) == PostMessage((done("up-a"), done("up-b")))
    assert item.status == Status.SENDING
    sent = message(item.idempotency_key, "two")
    outbox.on_sent(lid, sent)
    assert (item.status, item.message) == (Status.SENT, sent)
    assert outbox.next_step(lid) is None


def test_failure_then_retry_resumes_with_the_same_key(outbox):
    item = outbox.add(Draft("x", (staged("a.png", 100), staged("b.png", 100))))
    lid, key = item.local_id, item.idempotency_key
    outbox.next_step(lid)
    outbox.on_uploaded(lid, 0, done("up-a"))
    outbox.next_step(lid)
    outbox.on_progress(lid, 1, 40)
    outbox.on_failed(lid, NETWORK)
    assert (item.status, item.problem, item.uploaded, item.text) == (Status.FAILED, NETWORK, {0: done("up-a")}, "x")
    assert len(item.files) == 2
    assert outbox.next_step(lid) is None  # waits for the user (or a timer) to retry
    assert outbox.pending() == [item]

    assert outbox.retry(lid) == UploadFile(1)  # the finished upload is not redone
    assert (item.status, item.problem, item.idempotency_key) == (Status.UPLOADING, None, key)
    outbox.on_uploaded(lid, 1, done("up-b"))
    assert outbox.next_step(lid) == PostMessage((done("up-a"), done("up-b")))
    outbox.on_failed(lid, NETWORK)  # the post itself failed: maybe the server has it
    assert outbox.retry(lid) == PostMessage((done("up-a"), done("up-b")))
    assert item.idempotency_key == key
    outbox.on_sent(lid, message(key))
    assert item.status == Status.SENT


def test_retry_only_from_failed(outbox):
    item = outbox.add(Draft("x", ()))
    with pytest.raises(ValueError, match="queued"):
        outbox.retry(item.local_id)


def test_remove_attachment_from_a_failed_message_keeps_other_uploads(outbox):
    item = outbox.add(Draft("", (staged("a.png", 100), staged("big.png", 900), staged("c.png", 100))))
    lid = item.local_id
    outbox.next_step(lid); outbox.on_uploaded(lid, 0, done("up-a"))
    outbox.next_step(lid); outbox.on_failed(lid, Problem("too_large", "big.png is too large"))
    outbox.remove_attachment(lid, 1)
    assert [s.info.name for s in item.files] == ["a.png", "c.png"]
    assert item.uploaded == {0: done("up-a")}
    assert item.progress == pytest.approx(0.5)
    assert item.status == Status.FAILED
    assert outbox.retry(lid) == UploadFile(1)
    outbox.on_uploaded(lid, 1, done("up-c"))
    assert outbox.next_step(lid) == PostMessage((done("up-a"), done("up-c")))


def test_removing_indexes_shift_down(outbox):
    item = outbox.add(Draft("t", (staged("a", 1), staged("b", 1), staged("c", 1))))
    lid = item.local_id
    for i, up in enumerate(["u0", "u1", "u2"]):
        outbox.next_step(lid); outbox.on_uploaded(lid, i, done(up))
    outbox.next_step(lid); outbox.on_failed(lid, NETWORK)
    outbox.remove_attachment(lid, 0)
    assert item.uploaded == {0: done("u1"), 1: done("u2")}
    assert outbox.retry(lid) == PostMessage((done("u1"), done("u2")))


def test_removing_the_last_thing_removes_the_message(outbox):
    item = outbox.add(Draft("", (staged("a.png", 100),)))
    outbox.next_step(item.local_id)
    outbox.on_failed(item.local_id, NETWORK)
    outbox.remove_attachment(item.local_id)
    with pytest.raises(KeyError):
        outbox.get(item.local_id)
    assert outbox.pending() == []


def test_removing_the_file_of_a_message_with_text_keeps_the_text(outbox):
    item = outbox.add(Draft("words stay", (staged("a.png", 100),)))
    outbox.next_step(item.local_id)
    outbox.on_failed(item.local_id, NETWORK)
    outbox.remove_attachment(item.local_id)
    assert outbox.get(item.local_id).files == ()
    assert outbox.retry(item.local_id) == PostMessage(())


def test_no_removal_while_in_flight(outbox):
    item = outbox.add(Draft("", (staged("a.png", 100),)))
    outbox.next_step(item.local_id)
    with pytest.raises(ValueError):
        outbox.remove_attachment(item.local_id)
    outbox.on_failed(item.local_id, NETWORK)
    with pytest.raises(IndexError):
        outbox.remove_attachment(item.local_id, 5)


def test_an_echo_of_someone_elses_message_is_not_ours(outbox):
    item = outbox.add(Draft("mine", ()))
    assert outbox.on_echo(message("someone-else")) is None
    assert outbox.on_echo(message("")) is None
    assert outbox.get(item.local_id).status == Status.QUEUED


def test_an_echo_that_beats_the_post_answer_marks_the_message_sent(outbox):
    item = outbox.add(Draft("mine", ()))
    outbox.next_step(item.local_id)
    echo = message(item.idempotency_key, "mine", seq=9)
    assert outbox.on_echo(echo) is item
    assert (item.status, item.message) == (Status.SENT, echo)
    outbox.on_failed(item.local_id, NETWORK)  # the POST's connection dropped afterwards: still sent
    assert item.status == Status.SENT
    assert outbox.on_sent(item.local_id, echo) is None  # and the POST answer that comes last changes nothing
    assert outbox.on_echo(echo) is None
    assert outbox.on_echo(message("other")) is None
    assert outbox.on_echo(message("")) is None


def test_a_delivered_message_leaves_the_outbox_with_its_files(outbox):
    """Nothing keeps a sent message's File handles alive (a pasted screenshot included)."""
    item = outbox.add(Draft("", (staged("screenshot.png", 100),)))
    lid = item.local_id
    outbox.next_step(lid)
    outbox.on_uploaded(lid, 0, "up-1")
    outbox.next_step(lid)
    assert outbox.on_sent(lid, message(item.idempotency_key)) is item
    assert outbox.find(lid) is None and outbox.pending() == []
    for late in (lambda: outbox.on_failed(lid, NETWORK), lambda: outbox.on_progress(lid, 0, 50),
                 lambda: outbox.on_uploaded(lid, 0, "up-2")):
        late()
    assert outbox.next_step(lid) is None and outbox.find(lid) is None
    assert (item.status, item.problem) == (Status.SENT, None)


def test_late_progress_is_ignored(outbox):
    item = outbox.add(Draft("", (staged("a.png", 100),)))
    outbox.next_step(item.local_id)
    outbox.on_failed(item.local_id, NETWORK)
    outbox.on_progress(item.local_id, 0, 100)
    assert item.progress == 0.0


def test_pending_is_oldest_first_and_skips_sent(outbox):
    a, b, c = (outbox.add(Draft(t, ())) for t in "abc")
    outbox.next_step(b.local_id)
    outbox.on_sent(b.local_id, message(b.idempotency_key))
    outbox.next_step(c.local_id)
    outbox.on_failed(c.local_id, NETWORK)
    assert [o.text for o in outbox.pending()] == ["a", "c"]


def test_discard(outbox):
    item = outbox.add(Draft("x", ()))
    outbox.discard(item.local_id)
    outbox.discard(item.local_id)  # twice is fine
    assert outbox.pending() == []


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=5), st.data())
def test_progress_stays_within_0_and_1(sizes, data):
    box = Outbox(new_id=counter())
    item = box.add(Draft("", tuple(staged(f"f{i}", s) for i, s in enumerate(sizes))))
    while isinstance(step := box.next_step(item.local_id), UploadFile):
        for sent in data.draw(st.lists(st.integers(-5, 2 * 10**9), max_size=4)):
            box.on_progress(item.local_id, step.index, sent)
            assert 0.0 <= item.progress <= 1.0
        box.on_uploaded(item.local_id, step.index, done(f"u{step.index}"))
        assert 0.0 <= item.progress <= 1.0
    assert step == PostMessage(tuple(done(f"u{i}") for i in range(len(sizes))))
    assert item.progress == (1.0 if sum(sizes) else 0.0)


def test_an_unsent_message_survives_a_reload_through_its_record():
    from app.core.composer import Draft, Staged
    from app.core.models import FileInfo
    from app.core.outbox import INTERRUPTED, Outbox, PostMessage, Status, UploadFile

    before = Outbox()
    files = (Staged(FileInfo("a.png", 10, "image/png", b"\x89PNG"), "handle-a"),
             Staged(FileInfo("b.pdf", 30, "application/pdf", b"%PDF"), "handle-b"))
    item = before.add(Draft("hello", files))
    before.next_step(item.local_id)
    before.on_uploaded(item.local_id, 0, done("up-1"))
    record = before.to_record(item.local_id)

    after = Outbox()
    restored = after.restore(record, ["new-a", "new-b"])
    assert restored.status == Status.FAILED and restored.problem == INTERRUPTED
    assert restored.idempotency_key == item.idempotency_key
    assert [s.info for s in restored.files] == [s.info for s in files]
    assert [s.handle for s in restored.files] == ["new-a", "new-b"]
    assert restored.progress == 0.25
    assert after.retry(item.local_id) == UploadFile(1)
    after.on_uploaded(item.local_id, 1, done("up-2"))
    assert after.next_step(item.local_id) == PostMessage((done("up-1"), done("up-2")))


def test_a_damaged_record_is_refused_with_value_error():
    import pytest
    from app.core.outbox import Outbox

    with pytest.raises(ValueError):
        Outbox().restore({"local_id": "x"}, [])
    with pytest.raises(ValueError):
        Outbox().restore({"local_id": "x", "idempotency_key": "k", "text": "", "uploaded": {},
                          "files": [{"name": "a", "size": 1, "declared_type": "", "head": ""}]}, [])


TUS_RECORD = {"protocol": "tus", "url": "/api/uploads/u1", "confirmed": 40}


def test_an_interrupted_upload_resumes_from_its_record(outbox):
    item = outbox.add(Draft("x", (staged("a.png", 100),)))
    lid = item.local_id
    assert outbox.next_step(lid) == UploadFile(0, None)  # nothing to resume yet: a new upload
    outbox.on_progress(lid, 0, 40, TUS_RECORD)
    outbox.on_failed(lid, NETWORK)
    assert outbox.retry(lid) == UploadFile(0, TUS_RECORD)  # uploader.begin(info, record) resumes it
    outbox.on_uploaded(lid, 0, done("u1"))
    assert item.uploads == {0: TUS_RECORD}  # kept until the message is sent: removing the file terminates it
    assert outbox.next_step(lid) == PostMessage((done("u1"),))


def test_upload_records_survive_a_reload_as_json(outbox):
    import json

    item = outbox.add(Draft("x", (staged("a.png", 100), staged("b.png", 100))))
    lid = item.local_id
    outbox.next_step(lid); outbox.on_uploaded(lid, 0, done("u0"))
    outbox.next_step(lid); outbox.on_progress(lid, 1, 40, TUS_RECORD)
    record = json.loads(json.dumps(outbox.to_record(lid)))  # what IndexedDB gives back

    restored = Outbox().restore(record, ["a", "b"])
    assert restored.uploaded == {0: done("u0")}
    assert restored.uploads == {1: TUS_RECORD}
    assert restored.progress == pytest.approx(0.5)  # only confirmed, finished files count until resumed


def test_removing_a_file_returns_its_upload_record_and_shifts_the_others(outbox):
    item = outbox.add(Draft("x", (staged("a", 10), staged("b", 10), staged("c", 10))))
    lid = item.local_id
    item.uploads = {1: {"url": "b"}, 2: {"url": "c"}}  # as after a reload with two half-done uploads
    outbox.next_step(lid); outbox.on_failed(lid, NETWORK)
    assert outbox.remove_attachment(lid, 1) == {"url": "b"}  # the shell discards it on the server
    assert item.uploads == {1: {"url": "c"}}
    assert outbox.remove_attachment(lid, 0) is None


def test_a_finished_file_keeps_its_last_record_for_removal(outbox):
    item = outbox.add(Draft("x", (staged("a", 10),)))
    outbox.next_step(item.local_id)
    final = {**TUS_RECORD, "confirmed": 10}
    outbox.on_progress(item.local_id, 0, 10, final)
    outbox.on_uploaded(item.local_id, 0, done("u"))
    outbox.on_progress(item.local_id, 0, 0, TUS_RECORD)  # a late report from the machine changes nothing
    assert item.uploads == {0: final}
    outbox.on_failed(item.local_id, NETWORK)  # the post failed: the user removes the file
    assert outbox.remove_attachment(item.local_id, 0) == final  # the shell terminates that upload


def test_a_record_kept_by_an_older_page_still_restores():
    """Before upload records, a finished upload was kept as its bare id."""
    record = {"local_id": "x", "idempotency_key": "k", "text": "", "uploaded": {"0": "up-1"},
              "files": [FileInfo("a.png", 10, "", b"\x89PNG\r\n\x1a\n").to_json(),
                        FileInfo("b.png", 10, "image/png").to_json()]}
    item = Outbox().restore(record, ["a", "b"])
    assert item.uploaded == {0: Uploaded("up-1", FileInfo("a.png", 10, "", b"\x89PNG\r\n\x1a\n"), "image/png")}
    assert item.uploads == {}


def test_an_upload_created_after_a_cancel_is_adopted_for_retry(outbox):
    """The creation answered after the user cancelled: Retry goes on with that upload, not a new one."""
    item = outbox.add(Draft("x", (file := staged("a.png", 100),)))
    lid, before = item.local_id, {**TUS_RECORD, "url": None, "confirmed": 0}
    outbox.next_step(lid); outbox.on_progress(lid, 0, 0, before)   # kept as the creation left
    outbox.on_failed(lid, Problem("cancelled", "You cancelled the upload.", "Retry."))
    created = {**before, "url": "/api/uploads/u1"}
    assert outbox.adopt_upload(lid, file, created, replacing=before)
    assert outbox.retry(lid) == UploadFile(0, created)


def test_an_upload_created_too_late_for_its_message_is_refused(outbox):
    """Refused when the message was retried meanwhile (its delivery's creation, with the same key, names
    the same upload), its file removed, the message discarded, or the record changed since the creation
    left; the shell frees the upload unless the message is being delivered with that file."""
    before, created = {"url": None}, {"url": "/api/uploads/late"}
    cancelled = Problem("cancelled", "You cancelled the upload.", "Retry.")

    def failed_with(*names):
        item = outbox.add(Draft("x", tuple(staged(n, 10) for n in names)))
        outbox.next_step(item.local_id); outbox.on_progress(item.local_id, 0, 0, before)
        outbox.on_failed(item.local_id, cancelled)
        return item

    retried = failed_with("a")
    outbox.retry(retried.local_id)                                  # a creation with the same key is on its way
    assert not outbox.adopt_upload(retried.local_id, retried.files[0], created, replacing=before)
    assert outbox.delivering(retried.local_id, retried.files[0])    # the same upload: not to be freed

    removed = failed_with("a", "b")
    file = removed.files[0]
    outbox.remove_attachment(removed.local_id, 0)
    assert not outbox.adopt_upload(removed.local_id, file, created, replacing=before)
    outbox.retry(removed.local_id)
    assert not outbox.delivering(removed.local_id, file)            # sent without it: freed
    assert removed.uploads == {}

    discarded = failed_with("a")
    outbox.discard(discarded.local_id)
    assert not outbox.adopt_upload(discarded.local_id, discarded.files[0], created, replacing=before)
    assert not outbox.delivering(discarded.local_id, discarded.files[0])

    moved_on = failed_with("a")
    moved_on.uploads[0] = {"url": "/api/uploads/newer"}             # a later attempt's upload
    assert not outbox.adopt_upload(moved_on.local_id, moved_on.files[0], created, replacing=before)
    assert moved_on.uploads[0] == {"url": "/api/uploads/newer"}
