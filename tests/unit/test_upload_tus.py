"""The tus upload machine, read like its documentation: what it sends, and what each answer makes it do.

No network: the test plays the server by feeding Responses, as the browser
shell does with what fetch returned.
"""

import base64
import json

import pytest

from app.core.backoff import RetryPolicy
from app.core.http import TIMED_OUT, FileSlice, Request, Response
from app.core.models import FileInfo, Uploaded
from app.core.pacing import Pacer
from app.core.tus import GONE, TusUpload, metadata, upload_id
from app.core.upload import DISCARDED, Failed, Finished, Wait

ENDPOINT = "https://chat.example/prefix/api/uploads"
AUTH = {"Authorization": "Bearer tok"}
PNG = FileInfo("photo.png", 25, "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 17)


def keys():
    """Creation keys as a machine draws them, numbered: key-1, key-2..."""
    numbers = iter(range(1, 100))
    return lambda: f"key-{next(numbers)}"


def machine(info=PNG, *, chunk=10, policy=RetryPolicy(retries=2), **kw) -> TusUpload:
    kw.setdefault("new_key", keys())
    return TusUpload(ENDPOINT, info, headers=AUTH, pacer=Pacer(first=chunk, minimum=1, maximum=1000),
                     policy=policy, **kw)


def answer(status, offset=None, *, location=None, length=None, retry_after=None, error=None, text=""):
    headers = {}
    if offset is not None:
        headers["Upload-Offset"] = str(offset)
    if location is not None:
        headers["Location"] = location
    if length is not None:
        headers["Upload-Length"] = str(length)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if error is not None:
        text = json.dumps({"error": dict(zip(("code", "message", "hint"), error))})
    return Response(status, headers, text)


def created(up):
    """Answer the creation POST with a fresh upload at /prefix/api/uploads/u1."""
    assert up.next().method == "POST"
    up.feed(answer(201, location="/prefix/api/uploads/u1"))


def patch(start, end) -> Request:
    return Request("PATCH", ENDPOINT + "/u1",
                   {"Tus-Resumable": "1.0.0", **AUTH, "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(start)}, body=FileSlice(start, end))


HEAD = Request("HEAD", ENDPOINT + "/u1", {"Tus-Resumable": "1.0.0", **AUTH})


class TestTheHappyPath:
    def test_creation_declares_length_name_and_the_browsers_type(self):
        assert machine().next() == Request("POST", ENDPOINT, {
            "Tus-Resumable": "1.0.0", **AUTH, "Upload-Length": "25",
            "Upload-Metadata": "filename cGhvdG8ucG5n,filetype aW1hZ2UvcG5n,idempotency-key a2V5LTE="})

    def test_chunks_follow_the_servers_offset_until_finished(self):
        up = machine()
        created(up)
        for start, end in [(0, 10), (10, 20), (20, 25)]:
            assert up.next() == patch(start, end)
            up.feed(answer(204, end))
            assert up.confirmed == end
        assert up.next() == Finished(Uploaded("u1", PNG, "image/png"))
        assert up.next() == Finished(Uploaded("u1", PNG, "image/png"))  # it stays finished

    def test_only_the_creation_in_flight_is_creating(self):
        """The shell lets that request outlive a Cancel: its answer names an upload the server now holds."""
        up = machine()
        assert not up.creating()                 # nothing asked yet
        assert up.next().method == "POST" and up.creating()
        up.feed(answer(201, location="/prefix/api/uploads/u1"))
        assert not up.creating()
        assert up.next().method == "PATCH" and not up.creating()

    def test_a_short_tail_goes_with_the_last_chunk(self):
        up = machine(FileInfo("photo.png", 24, "image/png", PNG.head))
        created(up)
        up.next(); up.feed(answer(204, 10))
        assert up.next() == patch(10, 24)  # not (10, 20) and then (20, 24)

    def test_a_partly_accepted_chunk_continues_where_the_server_stopped(self):
        up = machine()
        created(up)
        up.next(); up.feed(answer(204, 7))
        assert up.next() == patch(7, 17)

    def test_content_type_is_what_we_believe_not_the_declared_type(self):
        lying = FileInfo("photo.jpg", 5, "image/jpeg", b"\x89PNG\r\n\x1a\n")
        up = machine(lying)
        created(up)
        up.next(); up.feed(answer(204, 5))
        assert up.next().uploaded.content_type == "image/png"

    def test_an_empty_file_is_finished_once_created(self):
        empty = FileInfo("empty.txt", 0)
        up = machine(empty)
        created(up)
        assert isinstance(up.next(), Finished)

    def test_next_repeats_the_request_until_it_is_answered(self):
        up = machine()
        assert up.next() is up.next()
        up.feed(answer(201, location="u1"))
        with pytest.raises(RuntimeError, match="call next"):
            up.feed(answer(204, 1))  # nothing was asked yet


class TestTheLocationOfANewUpload:
    @pytest.mark.parametrize("location, url", [
        ("/prefix/api/uploads/u1", "https://chat.example/prefix/api/uploads/u1"),
        ("uploads/u1", "https://chat.example/prefix/api/uploads/u1"),
        ("https://files.example/tus/u1", "https://files.example/tus/u1"),
    ])
    def test_is_resolved_against_the_creation_url(self, location, url):
        up = machine()
        up.next(); up.feed(answer(201, location=location))
        assert up.next().url == url
        assert upload_id(url) == "u1"

    @pytest.mark.parametrize("location", [None, "", "javascript:alert(1)", "https://chat.example/"])
    def test_an_unusable_one_fails_the_upload(self, location):
        up = machine()
        up.next(); up.feed(answer(201, location=location))
        step = up.next()
        assert isinstance(step, Failed) and step.problem.code == "bad_response" and not step.retryable


def test_metadata_is_base64_and_leaves_out_an_unknown_type_and_a_missing_key():
    assert metadata(FileInfo("reçu 1.pdf", 1, "")) == "filename " + base64.b64encode("reçu 1.pdf".encode()).decode()


class TestPassingFailures:
    def test_a_lost_chunk_waits_asks_the_server_and_sends_only_the_rest(self):
        up = machine()
        created(up)
        up.next(); up.feed(Response(0, {}, "Failed to fetch"))
        assert up.next() == Wait(1.0)
        assert up.next() == HEAD  # asking again after a Wait means the wait is over
        up.feed(answer(200, 6, length=25))
        assert up.next() == patch(6, 11)  # the chunk shrank: the link is struggling

    def test_waits_grow_with_each_retry_then_the_problem_is_shown(self):
        up = machine()
        created(up)
        waits = []
        for _ in range(3):
            step = up.next()
            if isinstance(step, Wait):
                waits.append(step.seconds)
                step = up.next()
            up.feed(answer(503, error=("maintenance", "Back in a minute.", "")))
        assert waits == [1.0, 2.0]
        assert up.next() == Failed(up.next().problem, retryable=True)
        assert up.next().problem.message == "Back in a minute."

    def test_progress_renews_the_budget(self):
        up = machine(policy=RetryPolicy(retries=1))
        created(up)
        for end in (10, 20, 25):
            up.next(); up.feed(answer(500))
            assert isinstance(up.next(), Wait)
            assert up.next() == HEAD
            up.feed(answer(200, end - 10 if end < 25 else 20))
            up.next(); up.feed(answer(204, end))
        assert isinstance(up.next(), Finished)

    def test_retry_after_is_honoured_and_a_long_one_is_reported(self):
        up = machine()
        created(up)
        up.next(); up.feed(answer(429, retry_after=7))
        assert up.next() == Wait(7.0)
        up.next(); up.feed(answer(429, retry_after=3600))
        step = up.next()
        assert isinstance(step, Failed) and step.retryable and step.problem.code == "rate_limited"

    def test_a_timeout_is_retried_with_a_smaller_chunk(self):
        up = machine(chunk=20)
        created(up)
        up.next(); up.feed(Response(0, {}, TIMED_OUT))
        up.next(); up.next(); up.feed(answer(204, 0))
        assert up.next() == patch(0, 10)

    def test_an_offset_mismatch_resyncs_at_once(self):
        up = machine()
        created(up)
        up.next(); up.feed(answer(409, error=("offset_mismatch", "The server holds 10 bytes.", "")))
        assert up.next() == HEAD  # no wait: HEAD tells where to go on
        up.feed(answer(200, 10))
        assert up.next() == patch(10, 20)

    def test_a_failed_creation_is_tried_again(self):
        up = machine()
        up.next(); up.feed(Response(0, {}, "offline"))
        assert isinstance(up.next(), Wait)
        assert up.next().method == "POST"


class TestAnUploadTheServerForgot:
    def test_starts_over_with_a_new_creation(self):
        up = machine()
        created(up)
        up.next(); up.feed(answer(204, 10))
        up.next(); up.feed(answer(404))
        assert up.next().method == "POST"
        assert up.confirmed == 0

    def test_but_only_while_the_restart_budget_lasts(self):
        up = machine(max_restarts=0)
        created(up)
        up.next(); up.feed(answer(410))
        assert up.next() == Failed(GONE, retryable=True)

    @pytest.mark.parametrize("head", [
        answer(200, 3),                # fewer bytes than it confirmed: it lost some
        answer(200, 16),               # more than was ever sent (5 + a 10-byte chunk)
        answer(200, 10, length=999),   # another file's upload
    ])
    def test_an_offset_it_cannot_trust_starts_over(self, head):
        up = machine()
        created(up)
        up.next(); up.feed(answer(204, 5))
        up.next(); up.feed(answer(500))
        up.next(); up.next(); up.feed(head)
        assert up.next().method == "POST"

    def test_an_offset_below_one_the_server_claimed_in_an_answer_not_taken_starts_over(self):
        """Resumed with 25 bytes sent (10 confirmed): a PATCH of 10-20 answered "I hold 22" is not taken
        (more than that PATCH carried), but the server said it holds 22; a HEAD then saying 10 means it
        lost bytes it claimed, so sending them again from 10 could be resending what it holds."""
        record = {"protocol": "tus", "endpoint": ENDPOINT, "url": ENDPOINT + "/u1", "name": "photo.png",
                  "size": 25, "confirmed": 10, "sent": 25}
        up = machine(record=record)
        up.next(); up.feed(answer(200, 10, length=25))
        assert up.next() == patch(10, 20)
        up.feed(answer(204, 22))
        assert up.next() == HEAD
        up.feed(answer(200, 10, length=25))
        assert up.next().method == "POST"

    def test_a_head_without_offset_explains_cors(self):
        up = machine()
        created(up)
        up.next(); up.feed(answer(500))
        up.next(); up.next(); up.feed(answer(200))
        step = up.next()
        assert step.problem.code == "bad_response" and "CORS" in step.problem.message


class TestRefusals:
    def test_refused_content_fails_for_good_with_the_servers_words(self):
        up = machine()
        created(up)
        up.next(); up.feed(answer(415, error=("type_mismatch", "photo.png is not a PNG image.", "Pick another.")))
        step = up.next()
        assert step == Failed(step.problem, retryable=False)
        assert (step.problem.code, step.problem.message) == ("type_mismatch", "photo.png is not a PNG image.")
        assert up.to_record()["url"] is None  # the server terminated it: a Retry starts over, judged again

    @pytest.mark.parametrize("status, code", [(413, "too_large"), (412, "protocol_version"), (401, "unauthorized")])
    def test_at_creation(self, status, code):
        up = machine()
        up.next(); up.feed(answer(status))
        assert up.next() == Failed(up.next().problem, retryable=False)
        assert up.next().problem.code == code


class TestResumingAfterAReload:
    def test_asks_the_server_first_then_sends_only_the_rest(self):
        before = machine()
        created(before)
        before.next(); before.feed(answer(204, 10))
        assert before.next() == patch(10, 20)  # in flight when the page went away
        record = json.loads(json.dumps(before.to_record()))
        assert record == {"protocol": "tus", "endpoint": ENDPOINT, "url": ENDPOINT + "/u1",
                          "name": "photo.png", "size": 25, "confirmed": 10, "sent": 20, "creation_key": "key-1"}

        after = machine(record=record)
        assert after.next() == HEAD
        after.feed(answer(200, 20, length=25))  # the chunk did arrive
        assert after.next() == patch(20, 25)

    @pytest.mark.parametrize("change", [{"name": "other.png"}, {"size": 26}, {"endpoint": "/elsewhere"},
                                        {"url": None}, {"confirmed": 30}, {"sent": True}, {"protocol": "single"}])
    def test_a_record_that_does_not_fit_the_file_is_ignored(self, change):
        record = {"protocol": "tus", "endpoint": ENDPOINT, "url": ENDPOINT + "/u1", "name": "photo.png",
                  "size": 25, "confirmed": 10, "sent": 20} | change
        assert machine(record=record).next().method == "POST"


def key_of(request: Request) -> str:
    """The creation key a creation carries (Upload-Metadata ``idempotency-key``)."""
    pairs = dict(p.split(" ") for p in request.headers["Upload-Metadata"].split(","))
    return base64.b64decode(pairs["idempotency-key"]).decode()


class TestACreationSentAgain:
    """Sent again, a creation carries its first key, so the server names the upload the first one made;
    a creation of another upload carries a new one."""

    def test_after_its_answer_was_lost(self):
        up = machine(policy=RetryPolicy(retries=2, base=0))
        first = up.next()
        up.feed(answer(0))
        while isinstance(step := up.next(), Wait):
            pass
        assert step.method == "POST" and key_of(step) == key_of(first) == "key-1"

    def test_after_a_reload_that_came_before_its_answer(self):
        before = machine()
        before.next()                                            # the creation leaves, the page goes
        record = json.loads(json.dumps(before.to_record()))
        assert record["url"] is None and record["creation_key"] == "key-1"
        assert key_of(machine(record=record, new_key=lambda: "fresh").next()) == "key-1"

    def test_not_for_a_record_of_another_file(self):
        record = machine().to_record() | {"name": "other.png"}
        assert key_of(machine(record=record, new_key=lambda: "fresh").next()) == "fresh"

    def test_not_once_the_server_forgot_the_upload(self):
        up = machine()
        created(up)
        up.next(); up.feed(answer(404))                           # gone: a new upload, a new key
        assert key_of(up.next()) == "key-2"


class TestDiscarding:
    def test_terminates_the_servers_copy(self):
        up = machine()
        created(up)
        up.next()
        assert up.discard() == Request("DELETE", ENDPOINT + "/u1", {"Tus-Resumable": "1.0.0", **AUTH})
        assert up.next() == Failed(DISCARDED, retryable=False)
        up.feed(answer(204, 10))  # the chunk's late answer changes nothing
        assert up.next() == Failed(DISCARDED, retryable=False)

    def test_before_creation_there_is_nothing_to_delete(self):
        assert machine().discard() is None


def test_the_pacer_sizes_chunks_from_measured_speed_and_remembers_it_for_the_next_upload():
    pacer = Pacer(first=10, minimum=5, maximum=1000)
    up = TusUpload(ENDPOINT, FileInfo("big.bin", 500), pacer=pacer)
    up.next(); up.feed(answer(201, location="u1"))
    up.next(); up.feed(answer(204, 10), elapsed=0.1)  # 100 bytes/s: next chunk ~1 s worth
    assert up.next().body == FileSlice(10, 110)
    nxt = TusUpload(ENDPOINT, FileInfo("next.bin", 500), pacer=pacer)
    nxt.next(); nxt.feed(answer(201, location="u2"))
    assert nxt.next().body == FileSlice(0, 100)
