"""What the canvas says to assistive technology: upload progress is announced at
25% steps, never on every chunk."""
from __future__ import annotations

from app import render
from app.core.outbox import Outgoing, Status


def outgoing(status: str, progress: float) -> Outgoing:
    return Outgoing(local_id="l1", idempotency_key="k", text="", files=(), status=status, progress=progress)


def test_progress_is_announced_at_the_start_and_every_quarter():
    heard = [render.progress_announcement(outgoing(Status.UPLOADING, p / 1000)) for p in range(0, 1001)]
    distinct = list(dict.fromkeys(heard))
    assert distinct == ["Uploading", "Uploading, 25% done", "Uploading, 50% done", "Uploading, 75% done",
                        "Uploading, 100% done"]


def test_nothing_is_announced_outside_uploading():
    for status in (Status.QUEUED, Status.SENDING, Status.SENT, Status.FAILED):
        assert render.progress_announcement(outgoing(status, 0.5)) == ""


def test_the_moving_bar_is_not_a_live_region_but_the_announcement_is():
    html = render.pending_html(outgoing(Status.UPLOADING, 0.6), {})
    assert '<div class="progress-row" aria-live="off">' in html
    assert '<p class="announce visually-hidden">Uploading, 50% done</p>' in html
    assert html.index('class="announce') > html.index('</div>', html.index('progress-row'))   # outside the row
