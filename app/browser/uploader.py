"""Chunked, resumable upload of one staged file through a backend adapter.

Each chunk is a `File.slice()` posted with fetch (fast, and the bytes never
enter Python); chunk sizes follow the measured speed (app.core.pacing), and
progress is reported between chunks. A chunk that fails for a passing reason
is retried a couple of times after asking the server how much it already
has; a later manual Retry resumes the same upload the same way.
"""
from __future__ import annotations

import asyncio
from typing import Callable

from js import performance

from app.backends.base import Backend, BackendError, UploadState
from app.browser.transport import Call, perform
from app.core.composer import Staged
from app.core.outbox import backoff
from app.core.pacing import MIN_CHUNK, next_chunk_size

MAX_AUTO_RETRIES = 2

# Upload sessions survive a failed attempt so a Retry resumes, not restarts.
_sessions: dict[int, UploadState] = {}
# The last chunk's (bytes, seconds): the next upload starts at the speed we know.
_last_measure: tuple[int, float] = (0, 0.0)


async def upload_file(backend: Backend, staged: Staged, call: Call, on_progress: Callable[[int], None]) -> str:
    """Upload `staged`, resuming a session this page started earlier; returns the upload id."""
    global _last_measure
    key = id(staged.handle)
    state = _sessions.get(key)
    chunk = next_chunk_size(*_last_measure)
    attempt = 0
    while True:
        try:
            if state is None:
                state = backend.parse_upload(await perform(backend.upload_start_request(staged.info), call=call))
            else:
                state = backend.parse_upload(await perform(backend.upload_status_request(state), call=call))
            _sessions[key] = state
            on_progress(state.offset)
            while not state.complete:
                started, before = performance.now(), state.offset
                request = backend.upload_chunk_request(state, chunk)
                state = backend.parse_upload(await perform(request, staged.handle, call))
                _sessions[key] = state
                on_progress(state.offset)
                measure = (state.offset - before, (performance.now() - started) / 1000)
                chunk = next_chunk_size(*measure)
                if measure[0] >= MIN_CHUNK:  # a small file's chunk says more about latency than speed
                    _last_measure = measure
            _sessions.pop(key, None)
            return state.upload_id
        except BackendError as error:
            forgotten = error.status == 404 and state is not None
            if forgotten:
                state = None  # the server no longer knows this upload: start over
            # A timeout already cost the user many seconds: report it, let them retry.
            quick_to_retry = (error.retryable and error.problem.code != "timeout") or forgotten
            if attempt >= MAX_AUTO_RETRIES or not quick_to_retry:
                raise
            attempt += 1
            await asyncio.sleep(backoff(attempt, base=0.5))
