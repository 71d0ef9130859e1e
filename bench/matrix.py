"""Matrix benchmarks (`python3 build.py bench matrix`): the page on a Synapse of its own.

- upload: one large file through the page (Attach -> Send -> the delivered
  message: POST /_matrix/media/v3/upload, then PUT .../send) against the same
  file POSTed with plain `fetch` to the same media endpoint with the same token,
  from the same page, interleaved; plus the growth of Pyodide's heap.
- history: a room of N events (agent and customer alternating, every 50th an
  image) opened from scratch: the newest page on screen, then every older page
  as the reader scrolls up, until the start of the room is shown (the history
  is virtualised: app.browser.blocks); against an empty room.

The bench Synapse is the tests' (tools/services/synapse.py: pinned, SQLite, on
127.0.0.1) with `max_upload_size` raised for the upload.
"""
from __future__ import annotations

import concurrent.futures
import statistics
import time
import uuid
from urllib.parse import quote

import harness  # bench/harness.py
import upload  # bench/upload.py
from playwright.sync_api import expect

from tools.sample_files import png_bytes
from tools.services.process import free_port
from tools.services.synapse import Synapse, create_room, ensure_synapse, populate

MIB = 1024 * 1024
UPLOAD_RUNS = 5  # 200 MiB each way: the machine's moods swing single runs by 2x
HISTORY_RUNS = 3
SEED_WORKERS = 4
ATTACH_EVERY = 50

FETCH_UPLOAD = """async ([homeserver, token]) => {
  const file = document.getElementById('bench-file').files[0];
  const t0 = performance.now();
  const answer = await fetch(homeserver + '/_matrix/media/v3/upload?filename=' + encodeURIComponent(file.name), {
    method: 'POST', body: file,
    headers: {Authorization: 'Bearer ' + token, 'Content-Type': 'application/octet-stream'}});
  const body = await answer.json();
  return {ms: performance.now() - t0, status: answer.status, uri: body.content_uri || ''};
}"""

# Where the page's upload time went (Resource Timing of its homeserver calls after the click).
BREAKDOWN = """() => {
  const up = window.__up;
  const calls = performance.getEntriesByType('resource')
    .filter(e => e.startTime >= up.t0 && /\\/_matrix\\//.test(e.name)
                 && !/\\/sync\\b|\\/thumbnail\\/|\\/download\\//.test(e.name));
  const upload = calls.find(e => /\\/media\\/v3\\/upload/.test(e.name));
  const send = calls.find(e => /\\/send\\//.test(e.name));
  return {before_upload_ms: upload ? upload.startTime - up.t0 : null,
          upload_ms: upload ? upload.responseEnd - upload.startTime : null,
          between_ms: upload && send ? send.startTime - upload.responseEnd : null,
          send_ms: send ? send.responseEnd - send.startTime : null,
          after_send_ms: send ? up.t1 - send.responseEnd : null};
}"""

SCROLL_TO_THE_BEGINNING = """async () => {
  const h = document.getElementById('history');
  const start = h.querySelector('#history-start');     // app.browser.blocks: the sentinel above the oldest block
  const reached = () => !start.hidden && start.textContent.includes('start of the conversation');
  const deadline = performance.now() + 300000;
  while (!reached() && performance.now() < deadline) {
    h.scrollTop = 0;                                   // the reader scrolls to the top ...
    await new Promise(resolve => setTimeout(resolve, 10));
  }
  const pages = performance.getEntriesByType('resource').filter(e => /\\/messages\\?/.test(e.name));
  return {at: performance.now(), reached: reached(), pages: pages.length,
          in_requests_ms: pages.reduce((s, e) => s + (e.responseEnd - e.startTime), 0)};
}"""


def attache_config(hs: Synapse, room: str, users: dict) -> str:
    return (f'[backend]\nkind = "matrix"\n\n[matrix]\nhomeserver = "{hs.url}"\nroom = "{room}"\n\n[matrix.identities]\n'
            f'agent = "{users["agent"].token}"\ncustomer = "{users["customer"].token}"\n\n'
            '[attachments]\nmax_file_size = "1 GB"\naccepted_types = []\n')


def run(bench, upload_mib: int, history_n: int) -> None:
    log = harness.log
    python = ensure_synapse()
    hs = Synapse(bench.workdir / "synapse", free_port(), max_upload_size=(upload_mib + 16) * MIB)
    hs.start(python)
    try:
        began = time.perf_counter()
        users = populate(hs, python, ("agent", "customer"))
        rooms = {name: create_room(hs, users, f"#{name}:localhost", ("customer",))
                 for name in ("upload", "full", "empty")}
        log(f"  bench Synapse {hs.url}: started in {hs.timings['start']:.1f} s, users and rooms in "
            f"{time.perf_counter() - began:.1f} s")
        servers = {name: bench.server(f"matrix-{name}", attache_config(hs, room, users))
                   for name, room in rooms.items()}
        bench_upload(bench, hs, users, servers["upload"], upload_mib)
        bench_history(bench, hs, users, rooms["full"], servers, history_n)
    finally:
        hs.stop()


# ---------------------------------------------------------------- upload
def app_upload_once(page, path) -> dict:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    chooser.value.set_files(str(path))
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_enabled(timeout=30_000)
    page.evaluate(upload.ARM_APP_UPLOAD)
    delivered = page.get_by_role("log", name="Conversation").locator("article:not(.pending)")
    before = delivered.count()
    send.click()
    expect(delivered).to_have_count(before + 1, timeout=harness.READY_TIMEOUT_MS)
    page.wait_for_function("window.__up.t1 !== null && window.__up.t0 !== null", timeout=10_000)
    stamps = page.evaluate("window.__up")
    return {"s": (stamps["t1"] - stamps["t0"]) / 1000, "breakdown": page.evaluate(BREAKDOWN)}


def fetch_upload_once(page, path, hs: Synapse, token: str) -> dict:
    page.set_input_files("#bench-file", str(path))
    result = page.evaluate(FETCH_UPLOAD, [hs.url, token])
    if result["status"] != 200 or not result["uri"].startswith("mxc://"):
        raise RuntimeError(f"plain fetch upload to Synapse failed: {result}")
    return {"s": result["ms"] / 1000}


def bench_upload(bench, hs: Synapse, users: dict, server, size_mib: int) -> None:
    harness.log(f"\n== matrix upload: {size_mib} MiB through the page vs plain fetch, both to Synapse ==")
    path = bench.workdir / "matrix-upload.bin"
    upload.make_big_file(path, size_mib)
    size = path.stat().st_size
    context, page = upload.open_app(bench, server, "room")
    heap_start = upload.heap(page)
    fetch_upload_once(page, path, hs, users["agent"].token)  # warms the disk cache and Synapse
    app_runs, fetch_runs = [], []
    for _ in range(UPLOAD_RUNS):  # interleaved, so the machine's moods hit both alike
        app_runs.append(app_upload_once(page, path))
        fetch_runs.append(fetch_upload_once(page, path, hs, users["agent"].token))
    growth = upload.heap(page) - heap_start
    context.close()
    app_s = statistics.median(r["s"] for r in app_runs)
    fetch_s = statistics.median(r["s"] for r in fetch_runs)
    ratio = fetch_s / app_s
    breakdown = {k: statistics.median(r["breakdown"][k] or 0 for r in app_runs) for k in app_runs[0]["breakdown"]}
    harness.print_table(
        f"matrix upload of {size_mib} MiB (median of {UPLOAD_RUNS}; "
        "page: click on Send -> delivered message in the DOM; "
        "fetch: one POST to the same media endpoint)",
        ["", "seconds", "MiB/s", "runs"],
        [["page (single request + PUT send)", f"{app_s:.2f}", f"{size / MIB / app_s:.0f}",
          harness.spread([r["s"] for r in app_runs])],
         ["plain fetch (POST upload)", f"{fetch_s:.2f}", f"{size / MIB / fetch_s:.0f}",
          harness.spread([r["s"] for r in fetch_runs])],
         ["throughput page/fetch", f"{ratio:.2f}", f"goal >= {upload.UPLOAD_GOAL_RATIO}", ""],
         ["Wasm heap growth", f"{growth / MIB:.1f} MiB", f"over {UPLOAD_RUNS} uploads", ""]])
    harness.print_table("where the page's upload time goes (median, ms; Resource Timing)", ["part", "ms"],
                      [[k, f"{v:.0f}"] for k, v in breakdown.items()])
    bench.results["matrix_upload"] = {"size_bytes": size, "app_runs_s": [r["s"] for r in app_runs],
                                      "fetch_runs_s": [r["s"] for r in fetch_runs], "ratio": ratio,
                                      "breakdown_ms": breakdown, "heap_growth_bytes": growth}
    bench.summary.append([f"Matrix upload {size_mib} MiB (Synapse)",
                          f"page {app_s:.2f} s, {size / MIB / app_s:.0f} MiB/s",
                          f"plain fetch {fetch_s:.2f} s, {size / MIB / fetch_s:.0f} MiB/s", f"{ratio:.2f}",
                          f"≥ {upload.UPLOAD_GOAL_RATIO}"])


# ---------------------------------------------------------------- history
def seed(hs: Synapse, users: dict, room: str, count: int) -> float:
    """`count` messages over the client-server API (agent and customer alternating; every 50th a PNG)."""
    png = png_bytes(64, 48)
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/send/m.room.message/"

    def post(i: int) -> None:
        user = users["agent" if i % 2 else "customer"]
        with hs.client(user) as client:
            content: dict[str, object]
            content = {"msgtype": "m.text", "body": f"Message {i}: the quick brown fox jumps over the lazy dog, "
                                                    f"order #{1000 + i} ships tomorrow."}
            if i % ATTACH_EVERY == 0:
                uri = client.post("/_matrix/media/v3/upload", content=png, params={"filename": f"photo-{i}.png"},
                                  headers={"Content-Type": "image/png"}).json()["content_uri"]
                content = {"msgtype": "m.image", "body": f"photo-{i}.png", "filename": f"photo-{i}.png", "url": uri,
                           "info": {"mimetype": "image/png", "size": len(png), "w": 64, "h": 48}}
            client.put(path + uuid.uuid4().hex, json=content).raise_for_status()

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(SEED_WORKERS) as pool:
        for future in concurrent.futures.as_completed([pool.submit(post, i) for i in range(1, count + 1)]):
            future.result()
    return time.perf_counter() - began


def bench_history(bench, hs: Synapse, users: dict, room: str, servers: dict, n: int) -> None:
    harness.log(f"\n== matrix history: a room of {n:,} events to the canvas ==")
    took = seed(hs, users, room, n)
    harness.log(f"  seeded {n:,} events in {took:.1f} s ({n / took:.0f}/s over the client-server API)")
    context = bench.new_context()
    context.add_init_script(harness.STARTUP_PROBE)
    page = context.new_page()
    page.goto(f"{servers['empty'].url}/?as=agent")  # warms the HTTP cache: every run below is warm
    harness.wait_ready(page)
    empty, first, full, pages = [], [], [], []
    for _ in range(HISTORY_RUNS):
        page.goto(f"{servers['empty'].url}/?as=agent")
        empty.append(harness.wait_ready(page)["paintedAt"] / 1000)
        page.goto(f"{servers['full'].url}/?as=agent")
        first.append(harness.wait_ready(page)["paintedAt"] / 1000)
        done = page.evaluate(SCROLL_TO_THE_BEGINNING)
        if not done["reached"] or done["pages"] < -(-n // 50):   # the history is virtualised: pages, not nodes
            raise RuntimeError(f"the start of the {n} events was not reached ({done['pages']} pages)")
        full.append(done["at"] / 1000)
        pages.append(done)
    context.close()
    e, f, a = (statistics.median(v) for v in (empty, first, full))
    in_requests = statistics.median(p["in_requests_ms"] for p in pages) / 1000
    harness.print_table(
        f"matrix history (median of {HISTORY_RUNS}, warm; in-page clock from navigation start)",
        ["", "seconds", "runs"],
        [["empty room: composer usable", f"{e:.2f}", harness.spread(empty)],
         [f"{n:,} events: newest page shown, composer usable", f"{f:.2f}", harness.spread(first)],
         [f"{n:,} events: all shown (scrolled up page by page, {pages[0]['pages']} pages)", f"{a:.2f}",
          harness.spread(full)],
         ["  of which waiting for /messages answers", f"{in_requests:.2f}", ""]])
    bench.results["matrix_history"] = {"events": n, "empty_s": empty, "first_page_s": first, "all_shown_s": full,
                                       "pages": pages[0]["pages"], "in_requests_s": in_requests}
    bench.summary.append([f"Matrix history {n:,} events", f"newest page {f:.2f} s; all {n:,} shown {a:.2f} s "
                          f"({pages[0]['pages']} pages, {in_requests:.2f} s in /messages)",
                          f"empty room {e:.2f} s", f"{a / e:.1f}x", "—"])
