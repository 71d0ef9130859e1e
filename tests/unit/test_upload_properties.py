"""Properties of the tus machine under any server behaviour hypothesis can invent.

A random "server" answers every request: any status (network failures and
timeouts included), offsets right, wrong, missing or absurd, Locations valid
or not, Retry-After of any size. Whatever it does, the machine:
- never sends an upload URL a byte that URL confirmed holding,
- never skips a byte: every PATCH starts at the offset last confirmed, and no
  further than what was sent there,
- ends Finished (only when the server confirmed the whole file) or Failed,
  within a number of steps bounded by the file size and the budgets,
- waits only positive, bounded durations, and takes a refusal as final.
"""

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from app.core.backoff import RetryPolicy
from app.core.http import TIMED_OUT, Request, Response
from app.core.models import FileInfo
from app.core.pacing import Pacer
from app.core.tus import TusUpload, upload_id
from app.core.upload import Failed, Finished, Wait

ENDPOINT = "https://up.example/files"
STATUSES = [0, 0, 200, 201, 204, 204, 204, 400, 403, 404, 408, 409, 410, 412, 413, 415, 422, 423, 429, 500, 503]
FINAL = {400, 403, 412, 413, 415, 422}  # refusals: never retried, never restarted


def header_value(data, near: list[int]):
    """An Upload-Offset/Length value: near the right one (off by one included), or nonsense."""
    return data.draw(st.one_of(
        st.sampled_from(sorted({str(max(0, n + d)) for n in near for d in (-1, 0, 1)})), st.none(),
        st.integers(-3, 200).map(str), st.sampled_from(["", "abc", "1.5", " 7 ", "１"])))


class Server:
    """Answers honestly or at random (how often: its `chaos` out of 10), and records
    what a real server could claim, per upload URL."""

    def __init__(self, data, size: int) -> None:
        self.data, self.size = data, size
        self.chaos = data.draw(st.sampled_from([0, 1, 1, 2, 2, 3, 5, 10]), label="chaos")
        self.stubborn = data.draw(st.booleans(), label="stubborn")  # repeats its first HEAD/PATCH answers
        self.memo: dict[str, Response] = {}
        self.created = 0
        self.sent: dict[str, int] = {}  # url -> end of the furthest byte sent there
        self.confirmed: dict[str, int] = {}  # url -> the most the server said it holds

    def answer(self, req: Request) -> Response:
        if self.stubborn and req.method in self.memo:
            return self.memo[req.method]
        if self.data.draw(st.integers(1, 10)) > self.chaos:
            resp = self.honest(req)
        else:
            resp = self.chaotic(req)
        if req.method != "POST":  # a real server never hands out one upload URL twice
            self.memo[req.method] = resp
        return resp

    def chaotic(self, req: Request) -> Response:
        d = self.data
        status = d.draw(st.sampled_from(STATUSES))
        headers: dict[str, str] = {}
        if status == 0:
            return Response(0, {}, d.draw(st.sampled_from([TIMED_OUT, "Failed to fetch"])))
        if req.method == "POST":
            self.created += 1
            location = d.draw(st.sampled_from([f"/files/n{self.created}", f"n{self.created}", "",
                                               "javascript:x", f"https://other.example/f/n{self.created}"]))
            headers["Location"] = location
        else:
            start = req.body.start if req.body else self.confirmed.get(req.url, 0)
            end = req.body.end if req.body else self.sent.get(req.url, 0)
            offset = header_value(d, [start, end, (start + end) // 2, self.size])
            if offset is not None:
                headers["Upload-Offset"] = offset
            length = header_value(d, [self.size])
            if length is not None and req.method == "HEAD":
                headers["Upload-Length"] = length
        if d.draw(st.booleans()):
            headers["Retry-After"] = str(d.draw(st.integers(0, 500)))
        return Response(status, headers)

    def honest(self, req: Request) -> Response:
        """What a working tus server says (it may keep only part of a chunk)."""
        if req.method == "POST":
            self.created += 1
            return Response(201, {"Location": f"/files/n{self.created}"})
        if req.method == "HEAD":
            low, high = self.confirmed.get(req.url, 0), self.sent.get(req.url, 0)
            offset = self.data.draw(st.integers(low, max(low, high)))
            return Response(200, {"Upload-Offset": str(offset), "Upload-Length": str(self.size)})
        kept = self.data.draw(st.one_of(st.just(req.body.end), st.integers(req.body.start + 1, req.body.end)))
        return Response(204, {"Upload-Offset": str(kept)})

    def note(self, req: Request, resp: Response) -> None:
        """What the answer lets a server claim: bytes it holds, never beyond what it was sent."""
        value = resp.headers.get("upload-offset", "").strip()   # HTTP trims a field value's whitespace (RFC 9110 5.5)
        if resp.ok and req.method in ("HEAD", "PATCH") and value.isascii() and value.isdigit():
            offset = int(value)
            if offset <= self.sent.get(req.url, 0):
                self.confirmed[req.url] = max(self.confirmed.get(req.url, 0), offset)


def bound(size: int, policy: RetryPolicy, restarts: int) -> int:
    """Every two requests make progress or use the retry budget; each request may follow a wait."""
    per_upload = 2 * 2 * (size + 1) * (policy.retries + 2) + 4
    return (restarts + 1) * per_upload


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.integers(0, 40), chunk=st.integers(1, 16), retries=st.integers(0, 3),
       restarts=st.integers(0, 2))
def test_any_server_behaviour_keeps_every_promise(data, size, chunk, retries, restarts):
    policy = RetryPolicy(retries=retries)
    up = TusUpload(ENDPOINT, FileInfo("f.bin", size), pacer=Pacer(first=chunk, minimum=1, maximum=16),
                   policy=policy, max_restarts=restarts)
    server = Server(data, size)
    steps, after_failure = 0, False
    while True:
        step = up.next()
        if isinstance(step, (Finished, Failed)):
            break
        steps += 1
        assert steps <= bound(size, policy, restarts), "the machine should have stopped by now"
        if isinstance(step, Wait):
            assert 0 < step.seconds <= policy.longest_wait
            continue
        if after_failure and step.method != "POST":
            assert step.method == "HEAD", "after a passing failure the server is asked where it stands"
        if step.method == "PATCH":
            start, url = step.body.start, step.url
            assert start == up.confirmed == int(step.headers["Upload-Offset"])
            assert start >= server.confirmed.get(url, 0), "re-sent a byte the server confirmed"
            assert start <= server.sent.get(url, 0), "skipped bytes the server never got"
            assert start < step.body.end <= size
            server.sent[url] = max(server.sent.get(url, 0), step.body.end)
        resp = server.answer(step)
        server.note(step, resp)
        up.feed(resp, elapsed=data.draw(st.floats(0, 5)))
        after_failure = step.method != "POST" and (resp.status in (0, 408, 409, 423, 429) or resp.status >= 500)
        if resp.status in FINAL:
            assert up.next() == Failed(up.next().problem, retryable=False), "a refusal is final"
    event(f"{type(step).__name__}{'' if size else ' (empty file)'} after {'many' if steps > 6 else 'few'} steps")
    if isinstance(step, Finished):
        url = up.url
        assert step.uploaded.ref == upload_id(url)
        assert size == 0 or server.confirmed.get(url) == size, "finished before the server held every byte"


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(1, 40), confirmed=st.integers(0, 40), extra=st.integers(0, 40))
def test_resuming_a_record_never_resends_what_it_says_was_confirmed(data, size, confirmed, extra):
    confirmed = min(confirmed, size)
    sent = min(confirmed + extra, size)
    record = {"protocol": "tus", "endpoint": ENDPOINT, "url": ENDPOINT + "/r1", "name": "f.bin", "size": size,
              "confirmed": confirmed, "sent": sent}
    up = TusUpload(ENDPOINT, FileInfo("f.bin", size), record=record, pacer=Pacer(first=4, minimum=1, maximum=8))
    assert up.next().method == "HEAD"
    server = Server(data, size)
    server.sent[record["url"]], server.confirmed[record["url"]] = sent, confirmed
    for _ in range(bound(size, RetryPolicy(), 1)):
        step = up.next()
        if isinstance(step, (Finished, Failed)):
            return
        if isinstance(step, Request):
            if step.method == "PATCH":
                assert server.confirmed.get(step.url, 0) <= step.body.start <= server.sent.get(step.url, 0)
                server.sent[step.url] = max(server.sent.get(step.url, 0), step.body.end)
            resp = server.answer(step)
            server.note(step, resp)
            up.feed(resp)
    raise AssertionError("the machine should have stopped by now")


def stuck(head: Response, patch: Response):
    """A server that gives the same answers forever (after creating the upload)."""
    def answer(req: Request) -> Response:
        return {"POST": Response(201, {"Location": "/files/x"}), "HEAD": head}.get(req.method, patch)
    return answer


@pytest.mark.parametrize("server", [
    stuck(Response(200, {"Upload-Offset": "0"}), Response(409, {})),            # offset mismatch forever
    stuck(Response(200, {"Upload-Offset": "0"}), Response(204, {"Upload-Offset": "0"})),  # accepts nothing
    stuck(Response(200, {"Upload-Offset": "0"}), Response(204, {"Upload-Offset": "99"})),  # claims too much
    stuck(Response(503, {}), Response(503, {})),
    stuck(Response(0, {}, TIMED_OUT), Response(0, {}, TIMED_OUT)),
    stuck(Response(404, {}), Response(404, {})),                                 # forgets every upload
    stuck(Response(200, {"Upload-Offset": "0", "Upload-Length": "7"}), Response(500, {})),  # another file
], ids=["409", "no-progress", "too-much", "503", "timeout", "404", "other-file"])
def test_a_stubborn_server_cannot_keep_it_going(server):
    policy = RetryPolicy(retries=3)
    up = TusUpload(ENDPOINT, FileInfo("f.bin", 20), pacer=Pacer(first=5, minimum=1, maximum=5), policy=policy)
    for _ in range(bound(20, policy, 1)):
        step = up.next()
        if isinstance(step, Failed):
            return
        if isinstance(step, Request):
            up.feed(server(step))
    raise AssertionError(f"still going: {up.next()}")
