"""Start-up benchmark: navigation -> first paint -> composer usable -> a file staged.

For the app and for a plain HTML page doing the same (a composer whose picked
file is shown with its name and size), cold (a new browser context: empty HTTP
cache) and warm (a reload in the same context, no routes so the HTTP cache and
Chromium's compiled-wasm cache stay on). Every stamp is taken inside the page on
its own clock (ms since navigation start): first paint from the Paint Timing
entry, the rest by a MutationObserver the moment the DOM changes. The file is
picked (set on the page's file input) as soon as the page says it can take one;
that hand-off costs both pages the same Playwright round trip. Bytes are the
Resource Timing transfer sizes (compressed, as on the wire) up to the staged file.
"""
from __future__ import annotations

import functools
import http.server
import statistics
import threading
import time
from pathlib import Path

from playwright.sync_api import Page

GOAL_COLD_S = 1.0
GOAL_WARM_S = 0.4

PROBE = """
(() => {
  const bench = window.__bench = {usableAt: null, stagedAt: null};
  const check = () => {
    const box = document.getElementById('message');
    if (bench.usableAt === null && box && !box.disabled) bench.usableAt = performance.now();
    const staged = document.getElementById('staged');
    if (bench.stagedAt === null && staged && staged.querySelector('[role=group]')) {
      bench.stagedAt = performance.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['disabled']});
})();
"""

RESULTS = """() => {
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .filter(e => e.responseEnd <= window.__bench.stagedAt);
  return {
    paint: paint ? paint.startTime : null,
    usable: window.__bench.usableAt,
    staged: window.__bench.stagedAt,
    bytes: entries.reduce((sum, e) => sum + (e.transferSize || 0), 0),
    requests: entries.length,
    python: document.documentElement.dataset.pythonStart || 'plain',
  };
}"""

# The same job without Python: enable the composer on DOMContentLoaded, show a
# picked file's name and size in #staged.
PLAIN_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Plain baseline</title>
  <link rel="icon" href="data:,">
  <script>
    document.addEventListener('DOMContentLoaded', () => {
      const input = document.getElementById('file-input');
      document.getElementById('attach').onclick = () => input.click();
      input.onchange = () => {
        const staged = document.getElementById('staged');
        staged.replaceChildren(...[...input.files].map(f => {
          const item = document.createElement('div');
          item.setAttribute('role', 'group');
          item.setAttribute('aria-label', 'Attachment ' + f.name);
          item.textContent = `${f.name} (${(f.size / 1000).toFixed(1)} kB)`;
          return item;
        }));
        staged.hidden = false;
      };
      for (const id of ['message', 'attach', 'send']) document.getElementById(id).disabled = false;
    });
  </script>
</head>
<body>
  <main>
    <form id="composer">
      <div id="staged" hidden></div>
      <button type="button" id="attach" disabled>Attach file</button>
      <input type="file" id="file-input" hidden>
      <label for="message">Message</label>
      <textarea id="message" rows="1" disabled></textarea>
      <button type="submit" id="send" disabled>Send</button>
    </form>
  </main>
</body>
</html>
"""


class PlainServer:
    """A tiny http.server on a free loopback port serving the plain page."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "index.html").write_text(PLAIN_PAGE)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        handler = functools.partial(Quiet, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/index.html"

    def __enter__(self) -> "PlainServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def load_and_stage(page: Page, url: str, picked: Path, timeout_ms: int) -> dict:
    """Navigate, pick `picked` the moment the composer is usable, return the stamps."""
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function("window.__bench && window.__bench.usableAt !== null", polling="raf", timeout=timeout_ms)
    page.set_input_files("#file-input", str(picked))
    page.wait_for_function("window.__bench.stagedAt !== null", polling="raf", timeout=timeout_ms)
    result = page.evaluate(RESULTS)
    result["wall"] = (time.perf_counter() - t0) * 1000
    return result


def measure(new_context, url, picked: Path, timeout_ms: int) -> dict[str, dict]:
    """One cold load (a new context), then one warm load (the same page again in a
    context whose caches one load filled). `url(n)` names a fresh conversation each
    time, so no draft kept from an earlier load (with its staged file) comes back."""
    context = new_context()
    context.add_init_script(PROBE)
    page = context.new_page()
    cold = load_and_stage(page, url(), picked, timeout_ms)
    context.close()
    context = new_context()
    context.add_init_script(PROBE)
    page = context.new_page()
    load_and_stage(page, url(), picked, timeout_ms)
    warm = load_and_stage(page, url(), picked, timeout_ms)
    context.close()
    return {"cold": cold, "warm": warm}


def summarize(runs: list[dict]) -> dict:
    out = {}
    for key in ("paint", "usable", "staged", "bytes", "wall"):
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = statistics.median(values) if values else None
        out[key + "_runs"] = values
    out["python"] = sorted({r["python"] for r in runs})
    return out


def fmt_s(ms: float | None) -> str:
    return "—" if ms is None else f"{ms / 1000:.2f} s"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def run(new_context, pages: dict[str, str], workdir: Path, runs: int, timeout_ms: int) -> dict:
    """pages: name -> URL of the app ("plain" is added); medians per page and cold/warm."""
    picked = workdir / "receipt.pdf"
    picked.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    counter = iter(range(1_000_000))
    with PlainServer(workdir / "plain") as plain:
        pages = {"plain": plain.url, **pages}
        results = {name: {"cold": [], "warm": []} for name in pages}
        # interleaved, so a busy moment of the shared machine hits every page alike
        for _ in range(runs):
            for name, base in pages.items():
                sep = "&" if "?" in base else "?"
                one = measure(new_context, lambda: f"{base}{sep}conversation=bench-start-{next(counter)}",
                              picked, timeout_ms)
                results[name]["cold"].append(one["cold"])
                results[name]["warm"].append(one["warm"])
    return {name: {kind: summarize(r) for kind, r in by_kind.items()} for name, by_kind in results.items()}


def table_rows(figures: dict) -> list[list[str]]:
    rows = []
    for kind, goal in (("cold", GOAL_COLD_S), ("warm", GOAL_WARM_S)):
        plain = figures["plain"][kind]
        for name, by_kind in figures.items():
            page = by_kind[kind]
            ratio = f"{page['staged'] / plain['staged']:.0f}x" if name != "plain" else ""
            rows.append([f"{name}, {kind}", fmt_s(page["paint"]), fmt_s(page["usable"]), fmt_s(page["staged"]),
                         f"≤ {goal:.1f} s" if name != "plain" else "", ratio, fmt_bytes(page["bytes"]),
                         ", ".join(page["python"])])
    return rows


TABLE_HEADER = ["page", "first paint", "composer usable", "file staged", "goal (staged)", "staged vs plain",
                "bytes transferred", "python start"]
