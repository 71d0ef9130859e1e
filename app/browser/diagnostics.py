"""Read-only figures for the benchmarks: `window.attacheDiagnostics()`.

Returns `{heap_bytes, messages}`: the size of Pyodide's WebAssembly heap (it
only ever grows, so growth across an upload shows whether file bytes passed
through Python) and how many delivered messages the history shows.
"""
from __future__ import annotations

import pyodide_js
from js import Object, document, window
from pyodide.ffi import create_proxy, to_js

_proxy = None


def heap_bytes() -> int:
    module = pyodide_js._module
    # HEAP8 is re-created by Emscripten whenever the memory grows, so its
    # length is the current heap size (same as the wasm Memory's byteLength).
    return int(module.HEAP8.length)


def rendered_messages() -> int:
    return int(document.querySelectorAll("#history article.msg:not(.pending)").length)


def _snapshot():
    return to_js({"heap_bytes": heap_bytes(), "messages": rendered_messages()}, dict_converter=Object.fromEntries)


def install() -> None:
    """Expose `window.attacheDiagnostics` (idempotent)."""
    global _proxy
    if _proxy is None:
        _proxy = create_proxy(_snapshot)
    window.attacheDiagnostics = _proxy
