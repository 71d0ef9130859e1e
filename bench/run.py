#!/usr/bin/env python3
"""Attache benchmarks: figures beside a baseline measured in the same run.

    python3 build.py bench [startup|upload|history|matrix ...] [--json FILE]
                           [--upload-mib N] [--compare NAME=URL]
    python3 build.py bench load [--agents N] [--listeners N] [--processes 1,2]   (bench/load.py)

With no benchmark named, the first three run (matrix, which installs and
starts a Synapse of its own, only when named: bench/matrix.py). Nothing here asserts a timing: each
benchmark prints a table and the end prints a Markdown summary for docs/benchmarks.md.

- startup (bench/startup.py): navigation -> first paint -> composer usable ->
  a picked file staged, for the app and for a plain HTML page doing the same
  (served by http.server), cold (a new browser context) and warm (the same
  context again, no routes so the HTTP cache stays on), with the bytes
  transferred; `--compare before=URL` measures another running build too.
- upload-s3 (bench/storage.py, only when named): the same upload with the
  server's bytes in an S3 bucket (moto_server), beside moto's own rate for
  the same bytes sent straight by boto3 (what the stand-in can take at all).
- upload: one large file sent through the app UI (Attach file -> Send ->
  the delivered message) against the same file sent with plain fetch (tus
  creation POST /api/uploads, one PATCH) from the same page, 5 of each,
  interleaved, the file and the server's data on a RAM disk when there is one;
  plus the growth of Pyodide's Wasm heap across the app uploads (bytes must not
  enter Python).
- history (bench/history.py): conversations of 1,000, 10,000 and 100,000
  messages (seeded straight into SQLite): data arrived -> newest visible,
  a scroll up to the very first message (time, longest frame, long tasks),
  DOM nodes and heaps at both ends.

Timings are taken inside the page (performance.now(), stamped by a
MutationObserver the moment the DOM changes) rather than by polling from
Playwright, whose assertions retry at 100-1000 ms intervals. Every server
and page listens on 127.0.0.1 only; a request to any other host is reported.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from app.core.sniff import sniff  # noqa: E402
from tests.conftest import AGENT_TOKEN, CUSTOMER_TOKEN, RunningServer  # noqa: E402
from tests.e2e.conftest import CHROMIUM_FLAGS  # noqa: E402

import history  # noqa: E402  (bench/history.py)
import startup  # noqa: E402  (bench/startup.py)

VIEWPORT = {"width": 1100, "height": 800}
READY_TIMEOUT_MS = 120_000
MIB = 1024 * 1024

STARTUP_RUNS = int(os.environ.get("ATTACHE_BENCH_RUNS", 5))
UPLOAD_RUNS = 5  # this shared VM's disk swings ±50% from one 200 MiB write to the next
UPLOAD_GOAL_RATIO = 0.95
HEAP_GOAL_BYTES = 16 * MIB

UPLOAD_CONFIG = """\
[attachments]
max_file_size = "300 MB"
accepted_types = []
max_files_per_message = 1
"""

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


# ---------------------------------------------------------------- helpers


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
    log("  " + "  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    log("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        log("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


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
        page.on("console", lambda m: self.page_errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)

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


# ---------------------------------------------------------------- startup


def seed_conversation(url: str) -> None:
    """startup.SEEDED messages from the customer in the conversation `url` names, on its server."""
    parts = urlsplit(url)
    conversation = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)["conversation"]
    with httpx.Client(base_url=f"{parts.scheme}://{parts.netloc}", timeout=30,
                      headers={"Authorization": f"Bearer {CUSTOMER_TOKEN}"}) as client:
        for n in range(startup.SEEDED):
            client.post(f"/api/conversations/{conversation}/messages", json={
                "idempotency_key": uuid.uuid4().hex, "text": f"Message {n} of the history", "attachments": []},
            ).raise_for_status()


def bench_startup(bench: Bench, compare: dict[str, str]) -> None:
    log("\n== startup: navigation -> first paint -> history -> composer usable -> a picked file staged ==")
    server = bench.server("startup")
    pages = {"app": f"{server.url}/?as=agent", **compare}
    figures = startup.run(bench.new_context, pages, bench.workdir, STARTUP_RUNS, READY_TIMEOUT_MS,
                          seed_conversation)
    server.stop()
    print_table(f"startup (median of {STARTUP_RUNS}, interleaved; in-page clock from navigation start)",
                startup.TABLE_HEADER, startup.table_rows(figures))
    for kind, goal in (("cold", startup.GOAL_COLD_S), ("warm", startup.GOAL_WARM_S)):
        app, plain = figures["app"][kind], figures["plain"][kind]
        bench.summary.append([f"start-up, {kind}", f"{app['staged'] / 1000:.2f} s to a staged file, judged by "
                              f"Python (shown {app['shown'] / 1000:.2f} s; history visible "
                              f"{startup.fmt_s(app['history'])}; first paint {app['paint'] / 1000:.2f} s; composer "
                              f"usable {app['usable'] / 1000:.2f} s; {startup.fmt_bytes(app['bytes'])} transferred)",
                              f"plain HTML page {plain['staged'] / 1000:.2f} s", f"{app['staged'] / plain['staged']:.0f}x",
                              f"≤ {goal:.1f} s; history ≤ {startup.GOAL_HISTORY_S:.1f} s"])
    bench.results["startup"] = figures


# ---------------------------------------------------------------- upload

INJECT_INPUT = """() => {
  if (!document.getElementById('bench-file')) {
    const input = document.createElement('input');
    input.type = 'file'; input.id = 'bench-file'; input.hidden = true;
    document.body.appendChild(input);
  }
}"""

FETCH_UPLOAD = """async (token) => {
  const file = document.getElementById('bench-file').files[0];
  const t0 = performance.now();
  const tus = {Authorization: 'Bearer ' + token, 'Tus-Resumable': '1.0.0'};
  const created = await fetch('/api/uploads', {method: 'POST', headers: {...tus,
    'Upload-Length': String(file.size), 'Upload-Metadata': 'filename ' + btoa(unescape(encodeURIComponent(file.name)))}});
  const patched = await fetch(created.headers.get('Location'), {method: 'PATCH',
    headers: {...tus, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream'}, body: file});
  const offset = Number(patched.headers.get('Upload-Offset'));
  return {ms: performance.now() - t0, created: created.status, status: patched.status,
          complete: offset === file.size, offset};
}"""

# Stamps the click on Send (capture phase, before the app's own handler) and
# the moment a new delivered message with an attachment link is in the DOM.
ARM_APP_UPLOAD = """() => {
  const sel = '#history article.msg:not(.pending) a[href*="/media/"]';
  const before = document.querySelectorAll(sel).length;
  const up = window.__up = {t0: null, t1: null, before};
  performance.clearResourceTimings();
  performance.setResourceTimingBufferSize(10000);
  const send = document.getElementById('send');
  send.addEventListener('click', () => { if (up.t0 === null) up.t0 = performance.now(); }, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    if (up.t1 === null && document.querySelectorAll(sel).length > before) {
      up.t1 = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document.getElementById('history'), {subtree: true, childList: true});
}"""


# Where the app's time went, from the Resource Timing entries of its API calls
# after the click: network time of the requests, idle time between them (the
# app's own work: Python, rendering), before the first and after the last.
APP_UPLOAD_BREAKDOWN = """() => {
  const up = window.__up;
  const calls = performance.getEntriesByType('resource')
    .filter(e => e.startTime >= up.t0 && /\\/api\\//.test(e.name) && !/\\/events/.test(e.name))
    .sort((a, b) => a.startTime - b.startTime);
  const patches = calls.filter(e => /\\/api\\/uploads\\/[0-9a-f]+$/.test(e.name.split('?')[0]));
  let gaps = 0;
  for (let i = 1; i < calls.length; i++) gaps += Math.max(0, calls[i].startTime - calls[i - 1].responseEnd);
  const lastChunk = patches[patches.length - 1];
  return {
    requests: calls.length, chunks: patches.length,
    before_first_ms: calls.length ? calls[0].startTime - up.t0 : null,
    in_requests_ms: calls.reduce((s, e) => s + (e.responseEnd - e.startTime), 0),
    in_chunks_ms: patches.reduce((s, e) => s + (e.responseEnd - e.startTime), 0),
    between_requests_ms: gaps,
    after_last_chunk_ms: lastChunk ? up.t1 - lastChunk.responseEnd : null,
  };
}"""


def make_big_file(path: Path, mib: int) -> None:
    while True:
        block = os.urandom(MIB)
        if sniff(block[:4096]) is None:   # random bytes, but never mistaken for a known type
            break
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)


def heap(page: Page) -> int:
    return int(page.evaluate("window.attacheDiagnostics().heap_bytes"))


def app_upload_once(page: Page, path: Path) -> dict:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    chooser.value.set_files(str(path))
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_enabled(timeout=30_000)
    page.evaluate(ARM_APP_UPLOAD)
    delivered = page.get_by_role("log", name="Conversation").locator("article:not(.pending)")
    before = delivered.count()
    t0 = time.perf_counter()
    send.click()
    expect(delivered).to_have_count(before + 1, timeout=READY_TIMEOUT_MS)
    expect(delivered.last.locator(f'a[title*="{path.name}"]')).to_have_count(1)
    page.wait_for_function("window.__up.t1 !== null && window.__up.t0 !== null", timeout=10_000)
    wall = time.perf_counter() - t0
    stamps = page.evaluate("window.__up")
    return {"s": (stamps["t1"] - stamps["t0"]) / 1000, "wall_s": wall, "breakdown": page.evaluate(APP_UPLOAD_BREAKDOWN)}


def fetch_upload_once(page: Page, path: Path) -> dict:
    page.set_input_files("#bench-file", str(path))
    result = page.evaluate(FETCH_UPLOAD, AGENT_TOKEN)
    if result["status"] != 204 or not result["complete"]:
        raise RuntimeError(f"plain fetch upload failed: {result}")
    return {"s": result["ms"] / 1000}


def open_app(bench: Bench, server: RunningServer, conversation: str):
    context = bench.new_context()
    context.add_init_script(STARTUP_PROBE)
    page = context.new_page()
    page.goto(f"{server.url}/?as=agent&conversation={conversation}")
    wait_ready(page)
    page.evaluate(INJECT_INPUT)
    return context, page


def round_trips_ms(server: RunningServer, runs: int = 20) -> dict:
    """Median GET /api/restrictions on one keep-alive connection, and on a new connection each.

    A keep-alive figure far above the new-connection one means the server
    writes a response in several pieces with Nagle's algorithm on (no
    TCP_NODELAY): each waits for the client's delayed ACK (~40 ms on Linux).
    """
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    url = f"{server.url}/api/restrictions"
    kept, fresh = [], []
    with httpx.Client(headers=headers) as client:
        client.get(url)
        for _ in range(runs):
            t = time.perf_counter()
            client.get(url).raise_for_status()
            kept.append((time.perf_counter() - t) * 1000)
    for _ in range(runs):
        with httpx.Client(headers=headers) as client:
            t = time.perf_counter()
            client.get(url).raise_for_status()
            fresh.append((time.perf_counter() - t) * 1000)
    return {"keepalive_ms": median(kept), "new_connection_ms": median(fresh)}


def ram_dir(need: int) -> Path | None:
    """A RAM-backed scratch directory with room for `need` bytes, where the system has one."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > need:
        return Path(tempfile.mkdtemp(prefix="attache-bench-", dir=shm))
    return None


def bench_upload(bench: Bench, size_mib: int, config_text: str = UPLOAD_CONFIG, name: str = "upload") -> None:
    """The --data folder by default; bench/storage.py passes a config with [storage] (S3) and name "upload_s3"."""
    log(f"\n== {name}: {size_mib} MiB through the app vs plain fetch ==")
    # The file and the server's data live in RAM where possible: this VM's disk swings by ±50% from
    # one 200 MiB write to the next, which would drown the page's own overhead (what this measures).
    ram = ram_dir(4 * size_mib * MIB)
    root = ram or bench.workdir
    log(f"  file and server data on {'a RAM disk (' + str(ram) + ')' if ram else 'disk (no RAM disk found)'}")
    try:
        _bench_upload(bench, size_mib, root, config_text, name)
    finally:
        if ram is not None:
            shutil.rmtree(ram, ignore_errors=True)
    bench.results[name]["storage"] = "ram" if ram else "disk"


def _bench_upload(bench: Bench, size_mib: int, root: Path, config_text: str, name: str) -> None:
    path = root / "upload" / "bench-upload.bin"
    path.parent.mkdir(parents=True)
    t = time.perf_counter()
    make_big_file(path, size_mib)
    log(f"  wrote {path.name} ({size_mib} MiB) in {time.perf_counter() - t:.1f} s")
    size = path.stat().st_size
    server = bench.server(name, config_text, root)
    trips = round_trips_ms(server)
    context, page = open_app(bench, server, "bench-upload")
    heap_start = heap(page)
    app_runs, fetch_runs, heap_runs = [], [], []
    # Interleaved (app, fetch, app, fetch...) so drift affects both alike; the
    # disk's page cache is warmed by a fetch upload before the first app run.
    fetch_upload_once(page, path)
    for _ in range(UPLOAD_RUNS):
        before = heap(page)
        app_runs.append(app_upload_once(page, path))
        heap_runs.append(heap(page) - before)
        fetch_runs.append(fetch_upload_once(page, path))
    heap_end = heap(page)
    context.close()

    app_s = median([r["s"] for r in app_runs])
    fetch_s = median([r["s"] for r in fetch_runs])
    app_rate, fetch_rate = size / MIB / app_s, size / MIB / fetch_s
    ratio = app_rate / fetch_rate
    # Each app run and the fetch run right after it met nearly the same machine: their ratios say more
    # on a busy VM than the ratio of medians (both are reported; the goal is read on the latter).
    pair_ratios = [f["s"] / a["s"] for a, f in zip(app_runs, fetch_runs)]
    growth = heap_end - heap_start
    print_table(
        f"upload of {size_mib} MiB (median of {UPLOAD_RUNS}; app: click on Send -> delivered message in the DOM; "
        f"fetch: POST + one PATCH)",
        ["", "seconds", "MiB/s", "runs"],
        [["app (tus, paced chunks)", f"{app_s:.2f}", f"{app_rate:.0f}", spread([r['s'] for r in app_runs])],
         ["plain fetch", f"{fetch_s:.2f}", f"{fetch_rate:.0f}", spread([r['s'] for r in fetch_runs])],
         ["throughput app/fetch", f"{ratio:.2f}", f"goal >= {UPLOAD_GOAL_RATIO}", ""],
         ["same, run by run (median)", f"{median(pair_ratios):.2f}", "",
          ", ".join(f"{r:.2f}" for r in pair_ratios)]],
    )
    breakdown = {k: median([r["breakdown"][k] for r in app_runs]) for k in app_runs[0]["breakdown"]}
    print_table(
        "where the app upload's time goes (median; from Resource Timing)",
        ["part", "ms"],
        [["click on Send -> first request starts", f"{breakdown['before_first_ms']:.0f}"],
         [f"inside the {breakdown['chunks']:.0f} PATCH requests (chunks)", f"{breakdown['in_chunks_ms']:.0f}"],
         [f"inside the other {breakdown['requests'] - breakdown['chunks']:.0f} API requests",
          f"{breakdown['in_requests_ms'] - breakdown['in_chunks_ms']:.0f}"],
         ["between requests (the app's own work)", f"{breakdown['between_requests_ms']:.0f}"],
         ["last chunk done -> message shown (POST message, render)", f"{breakdown['after_last_chunk_ms']:.0f}"],
         ["fetch baseline, for comparison", f"{fetch_s * 1000:.0f}"]],
    )
    print_table(
        "Wasm heap (Pyodide) around the app uploads",
        ["", "bytes", "MiB"],
        [["before the first upload", str(heap_start), f"{heap_start / MIB:.1f}"],
         ["after the last upload", str(heap_end), f"{heap_end / MIB:.1f}"],
         [f"growth over {UPLOAD_RUNS} uploads ({UPLOAD_RUNS * size_mib} MiB sent)", str(growth),
          f"{growth / MIB:.1f} (goal < {HEAP_GOAL_BYTES // MIB})"],
         ["growth per upload", ", ".join(str(g) for g in heap_runs), ""]],
    )
    print_table(
        "API round trip, GET /api/restrictions from Python (median of 20)",
        ["connection", "ms"],
        [["one keep-alive connection (as browsers do)", f"{trips['keepalive_ms']:.1f}"],
         ["a new connection each time", f"{trips['new_connection_ms']:.1f}"]],
    )
    if trips["keepalive_ms"] > 4 * trips["new_connection_ms"] and trips["keepalive_ms"] > 20:
        log("  NOTE: keep-alive requests are much slower than new connections: the server's sockets\n"
            "  probably lack TCP_NODELAY (Nagle + delayed ACK, ~40 ms per request); every chunk pays it.")
    bench.summary.append(["API round trip", f"{trips['keepalive_ms']:.1f} ms per request on a keep-alive connection",
                          f"{trips['new_connection_ms']:.1f} ms on a new connection",
                          f"{trips['keepalive_ms'] / trips['new_connection_ms']:.1f}x", "—"])
    bench.results[name] = {
        "round_trip": trips,
        "size_bytes": size,
        "app_s": app_s, "fetch_s": fetch_s, "app_mib_s": app_rate, "fetch_mib_s": fetch_rate, "ratio": ratio,
        "pair_ratios": pair_ratios,
        "app_runs_s": [r["s"] for r in app_runs], "app_wall_s": [r["wall_s"] for r in app_runs],
        "app_breakdown_ms": breakdown,
        "fetch_runs_s": [r["s"] for r in fetch_runs],
        "heap_start_bytes": heap_start, "heap_end_bytes": heap_end, "heap_growth_bytes": growth,
        "heap_growth_per_upload_bytes": heap_runs,
    }
    bench.summary.append([f"{name} {size_mib} MiB", f"app {app_s:.2f} s, {app_rate:.0f} MiB/s",
                          f"plain fetch {fetch_s:.2f} s, {fetch_rate:.0f} MiB/s",
                          f"{ratio:.2f} (run by run {median(pair_ratios):.2f})", f"≥ {UPLOAD_GOAL_RATIO}"])
    bench.summary.append(["upload heap", f"Wasm heap +{growth / MIB:.1f} MiB over {UPLOAD_RUNS} app uploads",
                          f"{heap_start / MIB:.0f} MiB before", "—", f"< {HEAP_GOAL_BYTES // MIB} MiB"])

    server.stop()


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["load"]:      # no browser: many people over HTTP, with options of its own (bench/load.py)
        import load
        return load.main(argv[1:])
    parser = argparse.ArgumentParser(prog="build.py bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmarks", nargs="*", metavar="{startup,upload,upload-s3,history,matrix,load}", default=[])
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--upload-mib", type=int, default=200, help="size of the upload (MiB, default 200)")
    parser.add_argument("--history-sizes", default=",".join(map(str, history.SIZES)),
                        help="conversation sizes (default 1000,10000,100000)")
    parser.add_argument("--matrix-events", type=int, default=1000, help="matrix: events in the history room")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=URL",
                        help="startup: also measure the page at URL (e.g. another build's server), interleaved")
    args = parser.parse_args(argv)
    unknown = [b for b in args.benchmarks if b not in ("startup", "upload", "upload-s3", "history", "matrix")]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (choose from startup, upload, upload-s3, history,"
                     " matrix; load runs alone)")
    chosen = args.benchmarks or ["startup", "upload", "history"]
    executable = os.environ.get("ATTACHE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not (ROOT / "static" / "vendor" / "app.zip").exists():
        sys.exit("bench: run `python3 build.py setup` first (or use `python3 build.py bench`)")

    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="attache-bench-"))
    log(f"Attache bench: {', '.join(chosen)} — {platform.node()}, {os.cpu_count()} CPUs, Chromium {executable}")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
            chromium_version = browser.version
            log(f"browser {chromium_version}")
            bench = Bench(browser, workdir)
            try:
                if "startup" in chosen:
                    bench_startup(bench, dict(item.split("=", 1) for item in args.compare))
                if "upload" in chosen:
                    bench_upload(bench, args.upload_mib)
                if "upload-s3" in chosen:
                    import storage  # bench/storage.py: the same upload into an S3 bucket (moto)
                    storage.run(bench, sys.modules[__name__], args.upload_mib)
                if "history" in chosen:
                    sizes = tuple(int(x) for x in args.history_sizes.split(","))
                    bench.results["history"] = history.run(bench, sizes, log, print_table, READY_TIMEOUT_MS)
                if "matrix" in chosen:
                    import matrix  # bench/matrix.py: the page on a Synapse of its own
                    matrix.run(bench, sys.modules[__name__], args.upload_mib, args.matrix_events)
            finally:
                bench.stop_servers()
                browser.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.perf_counter() - started
    if bench.offsite.offsite:
        log(f"\nWARNING: the pages requested other hosts than 127.0.0.1: {sorted(set(bench.offsite.offsite))}")
    if bench.page_errors:
        log(f"\nPage errors seen ({len(bench.page_errors)}):")
        for line in bench.page_errors[:10]:
            log(f"  {line}")
    log(f"\nMarkdown summary ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Chromium {chromium_version}, "
        f"bench took {elapsed:.0f} s):\n")
    log("| benchmark | figure | baseline | ratio | goal |")
    log("|---|---|---|---|---|")
    for row in bench.summary:
        log("| " + " | ".join(row) + " |")
    if args.json:
        payload = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(), "chromium": chromium_version,
                   "elapsed_s": elapsed, "offsite_requests": bench.offsite.offsite, "page_errors": bench.page_errors,
                   **bench.results}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        log(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
