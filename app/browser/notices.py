"""Error notifications: role=alert, announced at once, dismissable, keyed so a
repeated problem replaces its older notice instead of piling up."""
from __future__ import annotations

from collections.abc import Callable

from pyscript import when

from app import render
from app.browser.dom import closest, maybe
from app.core.models import Problem

MAX_VISIBLE = 3


def combine(problems: list[Problem]) -> Problem:
    """One notice for several problems (a file can break two rules; a drop can hold many files)."""
    if len(problems) == 1:
        return problems[0]
    hints = list(dict.fromkeys(p.hint for p in problems if p.hint))
    return Problem(problems[0].code, " ".join(p.message.rstrip(".") + "." for p in problems), " ".join(hints))


class Notices:
    def __init__(self, container) -> None:
        self.container = container
        self.next_id = 0
        self.keys: dict[str, int] = {}
        self.on_show: Callable[[Problem], None] = lambda problem: None  # <attache-canvas> events
        when("click", container)(self._on_click)

    def show(self, problem: Problem, key: str = "") -> None:
        if key:
            self.clear(key)
        self.next_id += 1
        if key:
            self.keys[key] = self.next_id
        self.container.insertAdjacentHTML("beforeend", render.notice_html(self.next_id, problem))
        while self.container.children.length > MAX_VISIBLE:
            self.container.firstElementChild.remove()
        self.on_show(problem)

    def clear(self, key: str) -> None:
        notice_id = self.keys.pop(key, None)
        node = maybe(self.container.querySelector(f"#notice-{notice_id}")) if notice_id else None
        if node is not None:
            node.remove()

    def _on_click(self, event) -> None:
        button = closest(event, "[data-action='dismiss']")
        if button is not None:
            button.closest(".notice").remove()
