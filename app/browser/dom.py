"""Small DOM helpers. Pyodide turns JavaScript `null` into `jsnull`, not None:
every lookup that may find nothing goes through `maybe` so Python code can
keep writing `if node is None`."""
from __future__ import annotations

from js import document
from pyodide.ffi import jsnull


def maybe(value):
    """None for JavaScript null/undefined, else the value."""
    return None if value is None or value is jsnull else value


def by_id(element_id: str):
    return maybe(document.getElementById(element_id))


def query(selector: str, root=None):
    return maybe((root or document).querySelector(selector))


def closest(event, selector: str):
    """The element matching `selector` at or above the event's target, or None."""
    target = maybe(event.target)
    return maybe(target.closest(selector)) if target is not None else None
