"""Debian's Chromium for the browser tests and the benches: where it is, and the flags it runs with."""
from __future__ import annotations

import os
import shutil

# Quiet and offline: nothing but the page under test talks to the network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]


def chromium_executable() -> str | None:
    """$ATTACHE_CHROMIUM, else chromium or google-chrome on PATH (None when there is none)."""
    return os.environ.get("ATTACHE_CHROMIUM") or shutil.which("chromium") or shutil.which("google-chrome")
