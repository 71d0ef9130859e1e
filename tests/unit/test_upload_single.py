"""The single-request upload machine: the whole file in one POST, as Matrix media takes it."""

import json

import pytest

from app.core.backoff import RetryPolicy
from app.core.errors import BackendError, bad_response, error_from_response
from app.core.http import FileSlice, Request, Response
from app.core.models import FileInfo, Problem, Uploaded
from app.core.upload import DISCARDED, Failed, Finished, SingleUpload, Wait

INFO = FileInfo("cat.png", 1234, "image/png", b"\x89PNG\r\n\x1a\n")
POST = Request("POST", "https://matrix.example/_matrix/media/v3/upload?filename=cat.png",
               {"Authorization": "Bearer t", "Content-Type": "image/png"}, body=FileSlice(0, 1234))


def parse(resp: Response) -> Uploaded:
    """What a Matrix adapter's parse does: its own words for errors; the content URI is the ref."""
    if resp.status == 413:
        raise BackendError(Problem("too_large", "cat.png is larger than the homeserver's 1 MB limit."), status=413)
    if not resp.ok:
        raise error_from_response(resp)
    uri = json.loads(resp.text).get("content_uri")
    if not isinstance(uri, str) or not uri.startswith("mxc://"):
        raise bad_response("content_uri should be an mxc:// URI", resp.status)
    return Uploaded(uri, INFO, "image/png")


def machine(**kw) -> SingleUpload:
    return SingleUpload(INFO, POST, parse, policy=RetryPolicy(retries=2), **kw)


def test_sends_the_whole_file_once_and_finishes_with_the_parsed_ref():
    up = machine()
    assert up.next() == POST
    assert up.confirmed == 0
    up.feed(Response(200, {}, json.dumps({"content_uri": "mxc://matrix.example/abc"})))
    assert up.next() == Finished(Uploaded("mxc://matrix.example/abc", INFO, "image/png"))
    assert up.confirmed == 1234


def test_a_passing_failure_sends_the_whole_file_again_after_a_wait():
    up = machine()
    up.next(); up.feed(Response(502, {}))
    assert up.next() == Wait(1.0)
    assert up.next() == POST
    up.next(); up.feed(Response(0, {}, "Failed to fetch"))
    assert up.next() == Wait(2.0)
    up.next(); up.feed(Response(0, {}, "Failed to fetch"))
    step = up.next()
    assert step == Failed(step.problem, retryable=True) and step.problem.code == "network"


def test_a_refusal_is_final_in_the_adapters_words():
    up = machine()
    up.next(); up.feed(Response(413, {}, json.dumps({"errcode": "M_TOO_LARGE", "error": "Upload too large"})))
    step = up.next()
    assert step == Failed(step.problem, retryable=False)
    assert (step.problem.code, step.problem.message) == ("too_large", "cat.png is larger than the homeserver's 1 MB limit.")


def test_a_parse_that_lets_an_error_answer_through_still_fails_it():
    up = SingleUpload(INFO, POST, lambda resp: Uploaded("mxc://x/y", INFO, "image/png"), policy=RetryPolicy(retries=0))
    up.next(); up.feed(Response(403, {}, json.dumps({"error": {"code": "forbidden", "message": "No."}})))
    step = up.next()
    assert step == Failed(step.problem, retryable=False) and step.problem.message == "No."


def test_an_unreadable_answer_fails_with_bad_response():
    up = machine()
    up.next(); up.feed(Response(200, {}, json.dumps({"content_uri": "https://evil.example/x"})))
    assert up.next().problem.code == "bad_response"


def test_there_is_nothing_to_resume_or_delete():
    up = machine()
    assert up.to_record() == {"protocol": "single", "name": "cat.png", "size": 1234}
    assert up.discard() is None
    assert up.next() == Failed(DISCARDED, retryable=False)


def test_feed_needs_a_request_in_flight():
    with pytest.raises(RuntimeError):
        machine().feed(Response(200, {}))


def test_a_wait_the_server_asked_for_in_its_body_is_honoured():
    """Matrix says how long to wait in ``retry_after_ms`` (browsers cannot read a cross-origin
    Retry-After header that is not exposed); the adapter's error carries it."""
    def slow_down(resp: Response) -> Uploaded:
        err = BackendError(Problem("rate_limited", "The homeserver asked Attache to slow down."), True, status=429)
        err.retry_after = 7.5
        raise err
    up = SingleUpload(INFO, POST, slow_down, policy=RetryPolicy(retries=2))
    up.next()
    up.feed(Response(429, {}, "{}"))
    assert up.next() == Wait(7.5)
    up = SingleUpload(INFO, POST, slow_down, policy=RetryPolicy(retries=2))
    up.next()
    up.feed(Response(429, {"Retry-After": "3"}, "{}"))  # the header, when readable, wins
    assert up.next() == Wait(3.0)
