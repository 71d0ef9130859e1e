"""The upload gauge: one large file sent through the app UI (Attach file -> Send -> the delivered
message) against the same file sent with plain fetch (tus creation, one PATCH) from the same page,
interleaved, the file and the server's data on a RAM disk when there is one; plus the growth of
Pyodide's Wasm heap across the app uploads (bytes must not enter Python)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
from harness import MIB, READY_TIMEOUT_MS, STARTUP_PROBE, Bench, log, median, print_table, spread, wait_ready
from playwright.sync_api import Page, expect

from app.core.sniff import sniff
from tools.services.attache import AGENT_TOKEN, RunningServer

UPLOAD_RUNS = 5  # this shared VM's disk swings ±50% from one 200 MiB write to the next
UPLOAD_GOAL_RATIO = 0.95
HEAP_GOAL_BYTES = 16 * MIB

UPLOAD_CONFIG = """\
[attachments]
max_file_size = "300 MB"
accepted_types = []
max_files_per_message = 1
"""


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
    'Upload-Length': String(file.size),
    'Upload-Metadata': 'filename ' + btoa(unescape(encodeURIComponent(file.name)))}});
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
    pair_ratios = [f["s"] / a["s"] for a, f in zip(app_runs, fetch_runs, strict=True)]
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
