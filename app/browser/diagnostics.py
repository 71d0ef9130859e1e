"""Read-only figures for the benchmarks and tests: `window.attacheDiagnostics()`.

Returns `{heap_bytes, messages, outbox, object_urls}`: the size of Pyodide's
WebAssembly heap (it only ever grows, so growth across an upload shows whether
file bytes passed through Python), how many delivered messages the history
shows, how many messages the outbox still holds, and how many object URLs
the page holds for thumbnails of local files.
"""
from __future__ import annotations

from collections.abc import Callable

import pyodide_js
from js import Object, window
from pyodide.ffi import create_proxy, to_js

_proxy = None
_figures: Callable[[], dict] = dict


def heap_bytes() -> int:
    module = pyodide_js._module
    # HEAP8 is re-created by Emscripten whenever the memory grows, so its
    # length is the current heap size (same as the wasm Memory's byteLength).
    return int(module.HEAP8.length)


def _snapshot():
    return to_js({"heap_bytes": heap_bytes(), **_figures()}, dict_converter=Object.fromEntries)


def install(figures: Callable[[], dict]) -> None:
    """Expose `window.attacheDiagnostics`; `figures` adds the canvas's own (idempotent)."""
    global _proxy, _figures
    _figures = figures
    if _proxy is None:
        _proxy = create_proxy(_snapshot)
    window.attacheDiagnostics = _proxy
