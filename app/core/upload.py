"""One upload as a sans-IO state machine: it says what to do next, the shell does it.

The shell drives every kind of upload the same way (tus, single request)::

    up = uploader.begin(info, record)          # record: to_record() kept from an earlier page
    while True:
        step = up.next()
        if isinstance(step, Wait):
            await asyncio.sleep(step.seconds)       # then ask again
        elif isinstance(step, Finished):
            return step.uploaded                    # attach step.uploaded to the message
        elif isinstance(step, Failed):
            raise ...                               # show step.problem; Retry if step.retryable
        else:                                       # a Request: perform it
            keep(up.to_record())                    # before the bytes leave: a reload resumes
            started = now()
            response = await perform(step, file)    # status 0 for network failure / TIMED_OUT
            up.feed(response, elapsed=now() - started)
            progress(up.confirmed)

``next()`` returns the same Request until it is fed, and a Wait only once
(asking again means the wait is over). Retries, their budget and their waits
follow the page's one policy (``app.core.backoff``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from app.core.backoff import POLICY, RetryPolicy
from app.core.errors import BackendError, error_from_response
from app.core.http import Request, Response, retry_after
from app.core.models import FileInfo, Problem, Uploaded

DISCARDED = Problem("discarded", "The upload was abandoned.", "Attach the file again to send it.")


@dataclass(frozen=True)
class Wait:
    """Try again after ``seconds`` (a passing failure, or the server's Retry-After)."""

    seconds: float


@dataclass(frozen=True)
class Finished:
    uploaded: Uploaded


@dataclass(frozen=True)
class Failed:
    """The upload stopped. ``retryable``: a later Retry may succeed (the user decides)."""

    problem: Problem
    retryable: bool


Step = Request | Wait | Finished | Failed


class UploadMachine(Protocol):
    """What ``Uploader.begin`` returns, whatever the protocol."""

    info: FileInfo
    confirmed: int  # bytes the server confirmed holding

    def next(self) -> Step: ...

    def feed(self, response: Response, elapsed: float | None = None) -> None: ...

    def discard(self) -> Request | None:
        """Give up: the request that frees the server's partial copy (fire and forget), if any."""
        ...

    def creating(self) -> bool:
        """The request in flight creates the upload: its answer names what the server now holds."""
        ...

    def to_record(self) -> dict:
        """JSON to keep with the unsent message; ``begin(info, record)`` resumes from it."""
        ...


class Machine:
    """The parts every upload machine shares: one request at a time, waits, the retry budget."""

    def __init__(self, info: FileInfo, policy: RetryPolicy = POLICY) -> None:
        self.info = info
        self.size = info.size
        self.confirmed = 0
        self._policy = policy
        self._attempt = 0  # automatic retries since the last progress
        self._pending: Request | None = None
        self._wait: float | None = None
        self._outcome: Finished | Failed | None = None

    def next(self) -> Step:
        if self._outcome is not None:
            return self._outcome
        if self._pending is not None:
            return self._pending
        if self._wait is not None:
            seconds, self._wait = self._wait, None
            return Wait(seconds)
        step = self._advance()
        if isinstance(step, Request):
            self._pending = step
        else:
            self._outcome = step
        return step

    def feed(self, response: Response, elapsed: float | None = None) -> None:
        """The answer to the Request ``next()`` gave (status 0: it never got one)."""
        if self._pending is None:
            if self._outcome is not None:
                return  # a late answer after discard(): nothing left to decide
            raise RuntimeError("feed() without a request in flight: call next() first")
        request, self._pending = self._pending, None
        self._answer(request, response, elapsed)

    def discard(self) -> Request | None:
        self._pending = self._wait = None
        self._outcome = Failed(DISCARDED, retryable=False)
        return None

    def creating(self) -> bool:
        """A shell lets such a request finish after a Cancel and keeps its answer (`Outbox.adopt_upload`):
        aborted, the server would hold an upload nobody can resume or free."""
        return False

    # ---- for subclasses
    def _advance(self) -> Request | Finished | Failed:
        raise NotImplementedError

    def _answer(self, request: Request, response: Response, elapsed: float | None) -> None:
        raise NotImplementedError

    def _progressed(self) -> None:
        self._attempt = 0

    def _retry_later(self, response: Response, *, wait: bool = True, problem: Problem | None = None,
                     asked: float | None = None) -> bool:
        """Schedule an automatic retry if the budget allows (False: it does not, and the upload
        failed with ``problem``, by default the wording of the response). ``asked``: the wait the
        server asked for in its body (Matrix ``retry_after_ms``), when no Retry-After header says it."""
        self._attempt += 1
        header = retry_after(response)
        delay = self._policy.delay(self._attempt, asked if header is None else header) if wait else 0.0
        if not self._policy.allows(self._attempt) or delay is None:
            self._fail(problem or error_from_response(response).problem, retryable=True)
            return False
        self._wait = delay or None
        return True

    def _fail(self, problem: Problem, retryable: bool) -> None:
        self._outcome = Failed(problem, retryable)


class SingleUpload(Machine):
    """The whole file in one request (Matrix media, and backends like it).

    Nothing to resume: a failure sends the whole file again. The adapter
    supplies the request and the parse of its answer, which reads every answer,
    errors included: its BackendError (the backend's own wording, e.g. Matrix's
    "too large" naming the file and the homeserver's limit) is what the user
    sees, and its ``retryable`` decides between a Wait and the end.
    """

    def __init__(self, info: FileInfo, request: Request, parse: Callable[[Response], Uploaded],
                 policy: RetryPolicy = POLICY) -> None:
        super().__init__(info, policy)
        self._request, self._parse = request, parse

    def _advance(self) -> Request:
        return self._request

    def _answer(self, request: Request, response: Response, elapsed: float | None) -> None:
        try:
            uploaded = self._parse(response)
            if not response.ok:  # a parse that lets an error through: the shared wording
                raise error_from_response(response)
        except BackendError as error:
            if error.retryable and not response.ok:
                self._retry_later(response, problem=error.problem, asked=error.retry_after)
            else:
                self._fail(error.problem, retryable=error.retryable)
            return
        self._outcome = Finished(uploaded)
        self.confirmed = self.size

    def to_record(self) -> dict:
        return {"protocol": "single", "name": self.info.name, "size": self.size}
