"""Small DOM helpers. Pyodide turns JavaScript `null` into `jsnull`, not None:
every lookup that may find nothing goes through `maybe` so Python code can
keep writing `if node is None`."""
from __future__ import annotations

from js import CSS, CustomEvent, Object, document
from pyodide.ffi import jsnull, to_js


def maybe(value):
    """None for JavaScript null/undefined, else the value."""
    return None if value is None or value is jsnull else value


def closest(event, selector: str):
    """The element matching `selector` at or above the event's target, or None."""
    target = maybe(event.target)
    return maybe(target.closest(selector)) if target is not None else None


def adopt(container, html: str) -> None:
    """Make `html` the container's content, keeping the nodes already there: the server's
    first paint is taken over with no flash, no image loaded again and no duplicate; only
    what differs changes (`_take_over`)."""
    if container.firstElementChild is None:     # nothing drawn yet
        container.innerHTML = html
        return
    fresh = document.createRange().createContextualFragment(html)   # nodes of this document
    if int(fresh.childElementCount) == int(container.childElementCount) and all(
            a.isEqualNode(b) for a, b in zip(container.children, fresh.children, strict=True)):
        return                                  # drawn exactly so already: nothing changes
    _take_over(container, fresh)


def _key(node, index: int) -> str:
    """What pairs a drawn element with its new twin: its id, its history block, else tag and place."""
    if node.id:
        return f"#{node.id}"
    block = maybe(node.getAttribute("data-block"))
    return f"block:{block}" if block is not None else f"{node.tagName}:{index}"


def _take_over(old, fresh) -> None:
    """`old` gets `fresh`'s children; each element of `old` with a twin there (same key and tag)
    stays, in the twin's place. A twin drawn differently (a block with one message more, a
    message whose time is in another zone) is merged into the element: the attributes set as
    the twin has them, the children taken over the same way, so an image in it stays."""
    twins = {_key(node, i): node for i, node in enumerate(fresh.children)}
    for i, node in enumerate(list(old.children)):
        twin = twins.pop(_key(node, i), None)
        if twin is None or twin.tagName != node.tagName:
            continue
        if not twin.isEqualNode(node):
            for name in list(node.getAttributeNames()):
                if not twin.hasAttribute(name):
                    node.removeAttribute(name)
            for name in list(twin.getAttributeNames()):
                if node.getAttribute(name) != twin.getAttribute(name):
                    node.setAttribute(name, twin.getAttribute(name))
            _take_over(node, twin)
        twin.replaceWith(node)                  # keep the node on screen in its new place
    old.replaceChildren(*list(fresh.childNodes))


class Root:
    """The canvas's part of the page. Every lookup of the canvas goes through it,
    never through `document`, so the canvas can live anywhere: in the page
    (index.html) or in the shadow root of an <attache-canvas> element."""

    def __init__(self, element) -> None:
        self.element = element
        node = element.getRootNode()
        # the element a portal listens to: <attache-canvas>, or the canvas itself in our page
        self.host = maybe(getattr(node, "host", None)) or element

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

    def take_early(self) -> list:
        """The files static/early.mjs held before Python ran; it stops holding them (call it
        in the same task as binding Python's own handlers, so no event falls between)."""
        early = maybe(getattr(self.element, "attacheEarly", None))
        return list(early.take()) if early is not None else []

    def hold_composer(self) -> None:
        """Nothing can be sent yet (start-up waits for a sign-in): the composer static/early.mjs
        opened closes; the files it holds stay held."""
        for control in ("message", "attach"):
            node = self.by_id(control)
            if node is not None:
                node.disabled = True

    def give_up(self) -> None:
        """Start-up failed for good: the composer static/early.mjs opened closes again."""
        self.take_early()
        self.hold_composer()
        staged = self.by_id("staged")
        if staged is not None:
            staged.replaceChildren()
            staged.hidden = True

    def emit(self, name: str, detail: dict) -> None:
        """A DOM event on the host for the portal around the canvas (bubbles out of the shadow root)."""
        init = {"detail": detail, "bubbles": True, "composed": True}
        self.host.dispatchEvent(CustomEvent.new(name, to_js(init, dict_converter=Object.fromEntries)))
