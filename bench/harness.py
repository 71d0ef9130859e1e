"""What every browser gauge of bench/ shares: the browser's contexts, the servers, the page's readiness
probe and the tables. Nothing here measures."""
from __future__ import annotations

import statistics
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, expect

from tools.services.attache import RunningServer

VIEWPORT = {"width": 1100, "height": 800}
READY_TIMEOUT_MS = 120_000
MIB = 1024 * 1024

# Stamps, in the page's own clock (ms since its navigation started):
#   enabledAt  Python took the canvas over: the composer is no longer aria-busy (the text box
#              itself works earlier, see static/early.mjs)
#   countAt    how many delivered messages the history held at that moment
#   paintedAt  a task after the next animation frame: that state is on screen
STARTUP_PROBE = """
(() => {
  const bench = window.__bench = {enabledAt: null, countAt: null, paintedAt: null};
  const check = () => {
    const form = document.getElementById('composer');
    if (bench.enabledAt === null && form && form.getAttribute('aria-busy') === 'false') {
      bench.enabledAt = performance.now();
      bench.countAt = document.querySelectorAll('#history article.msg:not(.pending)').length;
      observer.disconnect();
      // the next frame (style, layout, paint) has been produced once a task after it runs
      requestAnimationFrame(() => setTimeout(() => { bench.paintedAt = performance.now(); }, 0));
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['aria-busy']});
})();
"""

def log(text: str = "") -> None:
    print(text, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], unit: str = "s", scale: float = 1.0, digits: int = 3) -> str:
    return f"min {min(values) * scale:.{digits}f} {unit}, max {max(values) * scale:.{digits}f} {unit}"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    log()
    log(title)
    log("  " + "  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)))
    log("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        log("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))


class OffsiteWatch:
    """Every request a page makes that leaves 127.0.0.1 (there must be none)."""

    def __init__(self) -> None:
        self.offsite: list[str] = []

    def watch(self, context) -> None:
        context.on("request", self._check)

    def _check(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about", "chrome-extension"):
            return
        if parts.hostname != "127.0.0.1":
            self.offsite.append(request.url)


class Bench:
    def __init__(self, browser: Browser, workdir: Path) -> None:
        self.browser = browser
        self.workdir = workdir
        self.offsite = OffsiteWatch()
        self.results: dict = {}
        self.summary: list[list[str]] = []   # benchmark, figure, baseline, ratio, goal
        self.servers: list[RunningServer] = []
        self.page_errors: list[str] = []

    def new_context(self, **kwargs):
        context = self.browser.new_context(viewport=VIEWPORT, **kwargs)
        self.offsite.watch(context)
        context.on("page", self._watch_page)
        return context

    def _watch_page(self, page: Page) -> None:
        page.on("pageerror", lambda e: self.page_errors.append(f"pageerror: {e}"))
        page.on("console",
                lambda m: self.page_errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)

    def server(self, name: str, config_text: str | None = None, root: Path | None = None) -> RunningServer:
        base = (root or self.workdir) / name
        data = base / "data"
        data.mkdir(parents=True)
        config = None
        if config_text is not None:
            config = base / "config.toml"
            config.write_text(config_text)
        server = RunningServer(data, config).start()
        self.servers.append(server)
        return server

    def stop_servers(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()


def wait_ready(page: Page) -> dict:
    """Wait until the probe stamped the composer usable (and painted); return the stamps."""
    page.wait_for_function("window.__bench && window.__bench.paintedAt !== null", timeout=READY_TIMEOUT_MS)
    expect(page.get_by_role("textbox", name="Message")).to_be_enabled(timeout=READY_TIMEOUT_MS)
    return page.evaluate("window.__bench")
