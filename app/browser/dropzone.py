"""Drag-and-drop anywhere on the canvas: show a drop target, stage the files.

Dropped files go through the same staging (and the same checks) as the picker.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from js import window
from pyscript import when

from app.browser.dom import maybe


def _has_files(event) -> bool:
    transfer = maybe(event.dataTransfer)
    return transfer is not None and "Files" in list(transfer.types)


def install(area, overlay, stage: Callable[[list], Awaitable[None]]) -> None:
    depth = [0]  # dragenter/dragleave fire for every child crossed

    def show(visible: bool) -> None:
        overlay.hidden = not visible
        area.classList.toggle("dragging", visible)

    @when("dragenter", area)
    def on_enter(event):
        if _has_files(event):
            event.preventDefault()
            depth[0] += 1
            show(True)

    @when("dragover", area)
    def on_over(event):
        if _has_files(event):
            event.preventDefault()
            event.dataTransfer.dropEffect = "copy"

    @when("dragleave", area)
    def on_leave(_event):
        depth[0] = max(0, depth[0] - 1)
        if depth[0] == 0:
            show(False)

    @when("drop", area)
    def on_drop(event):
        event.preventDefault()
        depth[0] = 0
        show(False)
        transfer = maybe(event.dataTransfer)
        files = list(transfer.files) if transfer is not None else []
        if files:
            asyncio.ensure_future(stage(files))

    # A file dropped beside the canvas (in a portal page around it) must not make
    # the browser open it in place of the page, which would lose the draft.
    @when("dragover", window)
    @when("drop", window)
    def keep_the_page(event):
        if _has_files(event):
            event.preventDefault()
