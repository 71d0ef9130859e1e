"""Small DOM helpers. Pyodide turns JavaScript `null` into `jsnull`, not None:
every lookup that may find nothing goes through `maybe` so Python code can
keep writing `if node is None`."""
from __future__ import annotations

from js import CSS
from pyodide.ffi import jsnull


def maybe(value):
    """None for JavaScript null/undefined, else the value."""
    return None if value is None or value is jsnull else value


def closest(event, selector: str):
    """The element matching `selector` at or above the event's target, or None."""
    target = maybe(event.target)
    return maybe(target.closest(selector)) if target is not None else None


class Root:
    """The canvas's part of the page. Every lookup of the canvas goes through it,
    never through `document`, so the canvas can live anywhere: hosting it in a
    custom element's shadow root is `Root(host.shadowRoot.firstElementChild)`."""

    def __init__(self, element) -> None:
        self.element = element

    def by_id(self, element_id: str):
        """The element with this id inside the canvas, or None."""
        return self.query(f"#{CSS.escape(element_id)}")

    def query(self, selector: str):
        return maybe(self.element.querySelector(selector))

    def count(self, selector: str) -> int:
        return int(self.element.querySelectorAll(selector).length)

    def busy(self, busy: bool) -> None:
        """aria-busy on the canvas: true until it can be used."""
        self.element.setAttribute("aria-busy", "true" if busy else "false")
