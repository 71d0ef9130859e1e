"""What a portal hears from <attache-canvas>: DOM events on the element, with a `detail`.

    attache-message-sent      a message of this identity was delivered (its detail: the message)
    attache-message-received  a message of someone else arrived (live)
    attache-error             a problem the canvas shows: {code, message, hint}, in a notice,
                              or on a message "Not sent" (then also `unsent: true`)

An element taken out of the page closes its live feed (static/attache.js fires
attache-detached on the canvas); put back, it catches up from the last message it has.

Messages already in the history when the canvas starts are not announced. In
our own page the events fire on the canvas element (#attache). They bubble and
are `composed`, so they leave the shadow root.
"""
from __future__ import annotations

from pyscript import when

from app.browser.dom import Root
from app.core.models import Message, Problem

SENT, RECEIVED, ERROR = "attache-message-sent", "attache-message-received", "attache-error"


def message_detail(message: Message, conversation: str) -> dict:
    return {
        "conversation": conversation,
        "id": message.id,
        "seq": message.seq,
        "sender": message.sender,
        "sender_name": getattr(message, "sender_name", ""),
        "text": message.text,
        "created_at": message.created_at,
        "attachments": [{"name": a.name, "size": a.size, "content_type": a.content_type, "url": a.url}
                        for a in message.attachments],
    }


def problem_detail(problem: Problem) -> dict:
    return {"code": problem.code, "message": problem.message, "hint": problem.hint}


def connect(root: Root, canvas, conversation: str) -> None:
    """Announce on the root's host what the history shows from now on, every notice and
    every message that could not be sent. Ours are those of `canvas.identity` (known after start-up)."""
    def added(message: Message) -> None:
        root.emit(SENT if message.sender == canvas.identity else RECEIVED, message_detail(message, conversation))

    canvas.history.on_added = added
    when("attache-detached", root.element)(lambda: canvas.live.stop())
    when("attache-attached", root.element)(lambda: canvas.go_live())
    canvas.notices.on_show = lambda problem: root.emit(ERROR, problem_detail(problem))
    canvas.delivery.on_failed = lambda problem: root.emit(ERROR, {**problem_detail(problem), "unsent": True})
