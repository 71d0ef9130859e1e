"""One upload over tus 1.0.0 (core + creation, expiration, termination), as a sans-IO machine.

POST the creation URL (Upload-Length, Upload-Metadata ``filename``/``filetype``
and a random ``idempotency-key``), then PATCH bytes ``[confirmed, confirmed + chunk)`` until the server holds
them all. After any failure that may pass (network, timeout, 408/423/429/5xx,
409 offset mismatch) it asks the server where it stands with HEAD and goes on
from there, so a lost answer, a partly stored chunk and a reload are one path.
An upload the server forgot (404/410) starts over with a new creation while
the restart budget lasts; one the server refused (413, 415...) never does.
A creation sent again (its answer lost, or the page reloaded or the send
cancelled meanwhile) carries the same key, kept in the record: the reference
server then names the upload the first one made instead of making another
(other tus servers ignore the key).

Guarantees (tested with hypothesis over any sequence of answers): a byte the
server confirmed on an upload URL is never sent to it again, every PATCH
starts where the server said it stands (never past the bytes sent), and the
upload ends Finished or Failed in a bounded number of steps.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import unquote, urljoin, urlsplit
from uuid import uuid4

from app.core.backoff import POLICY, RetryPolicy
from app.core.errors import bad_response, error_from_response
from app.core.http import FileSlice, Request, Response, header_int
from app.core.models import FileInfo, Problem, Uploaded
from app.core.pacing import Pacer
from app.core.sniff import effective_type
from app.core.upload import Finished, Machine

TUS_VERSION = "1.0.0"
GONE = Problem("upload_expired", "The server no longer has this upload.", "Retry to upload the file again.")
_UNTRUSTED = "the server reported an upload offset this page cannot trust"
_REFUSED = frozenset({413, 415, 422})  # the file itself was refused
_NO_LOCATION = "no usable Location for the new upload; the server may not expose it to this page (CORS)"
_NO_OFFSET = "no Upload-Offset; the server may not expose tus headers to this page (CORS)"


def metadata(info: FileInfo, creation_key: str | None = None) -> str:
    """``Upload-Metadata``: the name, the browser's File.type as ``filetype`` (left out when empty), and the
    creation's ``idempotency-key``."""
    pairs = [("filename", info.name)] + ([("filetype", info.declared_type)] if info.declared_type else [])
    pairs += [("idempotency-key", creation_key)] if creation_key else []
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode('ascii')}" for key, value in pairs)


def upload_id(url: str) -> str:
    """The last path segment of an upload URL: what a message refers to on the reference server."""
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


class TusUpload(Machine):
    """Args:
        endpoint: the upload-creation URL (``base_url + "/api/uploads"`` on the reference server).
        headers: sent with every request (``Authorization``...).
        pacer: chunk sizes (shared by an uploader's uploads); policy: the retry policy.
        max_restarts: new creations allowed when the server forgot the upload.
        record: ``to_record()`` of an earlier machine for this file: resume with HEAD.
        new_key: a random key for each new creation.
    """

    def __init__(self, endpoint: str, info: FileInfo, *, headers: dict[str, str] | None = None,
                 pacer: Pacer | None = None, policy: RetryPolicy = POLICY, max_restarts: int = 1,
                 record: dict | None = None, new_key: Callable[[], str] = lambda: uuid4().hex) -> None:
        super().__init__(info, policy)
        self._new_key = new_key
        self._creation_key = new_key()  # the same for every attempt at one creation
        self.endpoint = endpoint
        self._headers = {"Tus-Resumable": TUS_VERSION, **(headers or {})}
        self._pacer = pacer or Pacer()
        self._chunk = self._pacer.start()
        self._restarts_left = max_restarts
        self.url: str | None = None
        self._offset_known = False  # False: HEAD before the next PATCH
        self._sent = 0  # end of the furthest byte sent to self.url: the server cannot hold more
        self._claimed = 0  # the most self.url said it holds, even in an answer not taken (>= confirmed)
        if record is not None:
            self._restore(record)

    # ---- what to do next
    def _advance(self) -> Request | Finished:
        if self.url is None:
            headers = {**self._headers, "Upload-Length": str(self.size),
                       "Upload-Metadata": metadata(self.info, self._creation_key)}
            return Request("POST", self.endpoint, headers)
        if not self._offset_known:
            return Request("HEAD", self.url, dict(self._headers))
        if self.confirmed >= self.size:
            return Finished(Uploaded(upload_id(self.url), self.info, effective_type(self.info)))
        end = min(self.confirmed + self._chunk, self.size)
        if self.size - end < self._chunk // 2:  # no short tail: a request saved is worth half a chunk more
            end = self.size
        self._sent = max(self._sent, end)
        headers = {**self._headers, "Content-Type": "application/offset+octet-stream",
                   "Upload-Offset": str(self.confirmed)}
        return Request("PATCH", self.url, headers, body=FileSlice(self.confirmed, end))

    # ---- what the answer means
    def _answer(self, request: Request, response: Response, elapsed: float | None) -> None:
        if request.method == "POST":
            self._created(response)
        elif request.method == "HEAD":
            self._headed(response)
        else:
            assert request.body is not None
            self._patched(request.body, response, elapsed)

    def _created(self, resp: Response) -> None:
        if not resp.ok:
            return self._failure(resp)
        url = _resolve(self.endpoint, resp.headers.get("location", ""))
        if url is None:
            return self._fail(bad_response(_NO_LOCATION, resp.status).problem, False)
        self.url, self.confirmed, self._sent, self._claimed, self._offset_known = url, 0, 0, 0, True

    def _headed(self, resp: Response) -> None:
        if not resp.ok:
            return self._failure(resp)
        offset, length = header_int(resp, "upload-offset"), header_int(resp, "upload-length")
        if offset is None:
            return self._fail(bad_response(_NO_OFFSET, resp.status).problem, False)
        if (length is not None and length != self.size) or not self._claimed <= offset <= self._sent:
            # Another file's upload, bytes lost after being claimed, or bytes never sent:
            # sending on could re-send or skip bytes, so start a new upload instead.
            return self._restart(bad_response(_UNTRUSTED, resp.status).problem)
        if offset > self.confirmed:
            self._progressed()
        self.confirmed, self._claimed, self._offset_known = offset, offset, True

    def _patched(self, sent: FileSlice, resp: Response, elapsed: float | None) -> None:
        if not resp.ok:
            if resp.status == 0 or resp.status == 408:
                self._chunk = self._pacer.slow_down(self._chunk)
            return self._failure(resp)
        offset = header_int(resp, "upload-offset")
        if offset is None:
            return self._fail(bad_response(_NO_OFFSET, resp.status).problem, False)
        if offset <= self._sent:  # bytes it may hold (an earlier PATCH's): it must not say less later
            self._claimed = max(self._claimed, offset)
        if not sent.start < offset <= sent.end:  # no progress, or not what was sent: ask where it stands
            self._offset_known = False
            self._retry_later(resp, wait=offset == sent.start)
            return
        if elapsed is not None:
            self._chunk = self._pacer.observe(offset - sent.start, elapsed)
        self.confirmed = offset
        self._progressed()

    def _failure(self, resp: Response) -> None:
        """A non-2xx answer (or none): resync and retry, start over, or stop."""
        if resp.status in (404, 410) and self.url is not None:
            return self._restart(GONE)
        if resp.status == 409 and self.url is not None:  # offset mismatch: HEAD tells, no need to wait
            self._offset_known = False
            self._retry_later(resp, wait=False)
            return
        error = error_from_response(resp)
        if error.retryable:
            self._offset_known = False
            self._retry_later(resp)
        else:  # refused (413, 415 content, 412 version...): the server's word is final
            if resp.status in _REFUSED:
                self.url = None  # terminated or never usable: a later Retry starts over, judged anew
            self._fail(error.problem, retryable=False)

    def _restart(self, problem: Problem) -> None:
        if self._restarts_left <= 0:
            return self._fail(problem, retryable=True)
        self._restarts_left -= 1
        self.url, self.confirmed, self._sent, self._claimed, self._offset_known = None, 0, 0, 0, False
        self._creation_key = self._new_key()  # that upload is gone: the next creation is another
        self._progressed()

    def creating(self) -> bool:
        return self._pending is not None and self._pending.method == "POST"

    def discard(self) -> Request | None:
        """Terminate the server's copy (tus termination); None when there is none."""
        url = self.url
        super().discard()
        self.url = None
        return Request("DELETE", url, dict(self._headers)) if url else None

    # ---- kept across reloads
    def to_record(self) -> dict:
        return {"protocol": "tus", "endpoint": self.endpoint, "url": self.url, "name": self.info.name,
                "size": self.size, "confirmed": self.confirmed, "sent": self._sent, "creation_key": self._creation_key}

    def _restore(self, record: dict) -> None:
        """Resume from ``record`` when it is this file's upload at this endpoint; else start anew. A record
        of a creation never answered gives its key: sent again, the creation names what the first one made."""
        try:
            same_file = (record["protocol"] == "tus" and record["endpoint"] == self.endpoint
                         and record["name"] == self.info.name and record["size"] == self.size)
            fits = (same_file and isinstance(record["url"], str) and record["url"]
                    and all(type(record[k]) is int for k in ("confirmed", "sent"))
                    and 0 <= record["confirmed"] <= record["sent"] <= self.size)
        except (KeyError, TypeError):
            same_file = fits = False
        if fits:
            self.url, self.confirmed, self._sent = record["url"], record["confirmed"], record["sent"]
            self._claimed = self.confirmed
        elif same_file and isinstance(record.get("creation_key"), str) and record["creation_key"]:
            self._creation_key = record["creation_key"]


def _resolve(endpoint: str, location: str) -> str | None:
    """``Location`` (absolute or relative) against the creation URL; None for anything unusable."""
    location = location.strip()
    if not location:
        return None
    url = urljoin(endpoint, location)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("", "http", "https") or not upload_id(url):
        return None
    return url
