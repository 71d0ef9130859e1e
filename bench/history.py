"""History benchmark: conversations of N messages (1,000 / 10,000 / 100,000 by default).

Seeded straight into the server's SQLite (tools/seed.py: the rows the server
itself writes, in one transaction; 100,000 messages over the API would take
minutes), every 50th message with the same PNG (so with a server thumbnail).
For each size, in one warm browser context:

- open: navigation -> the newest page in the DOM and painted; "arrived ->
  visible" is from the end of the history response (Resource Timing) to that
  paint, all on the page's clock (median of RUNS);
- what the page holds then and after the scroll: DOM nodes and JS heap (Chrome
  DevTools Protocol `Performance.getMetrics`, after a garbage collection), the
  messages in the DOM and in Python, and Pyodide's Wasm heap;
- scroll to the first message: from the newest, the history is scrolled up
  SCROLL_PX every animation frame (a fast, steady fling) until the very first
  message is in view; the time, the frames, the longest frame and the long
  tasks (> 50 ms, PerformanceObserver) on the way are jank's measure.
"""
from __future__ import annotations

import base64
import statistics
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.sample_files import png_bytes
from tools.seed import seed
from tools.services.attache import CUSTOMER_TOKEN

SIZES = (1_000, 10_000, 100_000)
RUNS = 7
SCROLL_PX = 3000
GOAL_ARRIVED_MS = 100

PROBE = """
(() => {
  const bench = window.__history = {shownAt: null, paintedAt: null};
  const observer = new MutationObserver(() => {
    if (bench.shownAt === null && document.querySelector('#history article.msg')) {
      bench.shownAt = performance.now();
      observer.disconnect();
      requestAnimationFrame(() => setTimeout(() => { bench.paintedAt = performance.now(); }, 0));
    }
  });
  observer.observe(document, {subtree: true, childList: true});
})();
"""

TIMING = """() => {
  const e = performance.getEntriesByType('resource').find(e => /\\/messages(\\?|$)/.test(e.name));
  const last = [...document.querySelectorAll('#history article.msg:not(.pending) .text')].pop();
  return {responseEnd: e ? e.responseEnd : null, bytes: e ? e.encodedBodySize : null,
          newest: last ? last.textContent : null, ...window.__history};
}"""

SCROLL = """async ([step, first]) => {
  const h = document.getElementById('history');
  const longtasks = [];
  const po = new PerformanceObserver(list => longtasks.push(...list.getEntries().map(e => e.duration)));
  po.observe({type: 'longtask'});
  const visible = () => [...h.querySelectorAll('article.msg .text')].some(e => e.textContent.startsWith(first)
      && e.getBoundingClientRect().bottom > h.getBoundingClientRect().top);
  const frames = [];
  const t0 = performance.now();
  let last = t0;
  return await new Promise(resolve => {
    const frame = now => {
      frames.push(now - last);
      last = now;
      if (h.scrollTop === 0 && visible()) {
        po.disconnect();
        frames.sort((a, b) => a - b);
        resolve({ms: now - t0, frames: frames.length, longest_frame_ms: frames[frames.length - 1],
                 p95_frame_ms: frames[Math.floor(frames.length * 0.95)], long_tasks: longtasks.length,
                 longest_task_ms: Math.max(0, ...longtasks)});
        return;
      }
      h.scrollTop = Math.max(0, h.scrollTop - step);
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}"""


def prepare(server, conversation: str, count: int) -> float:
    """One PNG uploaded over tus (the server makes its thumbnail), then `count` messages seeded."""
    png = png_bytes(64, 48)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {CUSTOMER_TOKEN}"}) as c:
        tus = {"Tus-Resumable": "1.0.0"}
        meta = "filename " + base64.b64encode(b"photo.png").decode()
        r = c.post("/api/uploads", headers={**tus, "Upload-Length": str(len(png)), "Upload-Metadata": meta})
        upload_id = r.headers["location"].rsplit("/", 1)[-1]
        c.patch(f"/api/uploads/{upload_id}", content=png, headers={
            **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}).raise_for_status()
    t0 = time.perf_counter()
    seed(server.data / "attache.sqlite3", conversation, count, attach=upload_id, attach_every=50)
    return time.perf_counter() - t0


def held(page, cdp) -> dict:
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    diag = page.evaluate("attacheDiagnostics()")
    return {"dom_nodes": int(metrics["Nodes"]), "js_heap_mb": metrics["JSHeapUsedSize"] / 1e6,
            "messages_in_dom": diag["messages"], "messages_in_python": diag["history_loaded"],
            "wasm_heap_mb": diag["heap_bytes"] / 2**20}


def run(bench, sizes: tuple[int, ...], log, print_table, timeout_ms: int) -> dict:
    log("\n== history: open a conversation of N messages, then scroll to its first ==")
    server = bench.server("history")
    conversations = {}
    for n in sizes:
        conversations[n] = f"bench-history-{n}"
        log(f"  seeded {n:,} messages in {prepare(server, conversations[n], n):.1f} s (SQLite, one transaction)")
    context = bench.new_context()
    context.add_init_script(PROBE)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(f"{server.url}/?as=agent&conversation={conversations[sizes[0]]}")   # warm the cache once
    expect(page.get_by_role("textbox", name="Message")).to_be_enabled(timeout=timeout_ms)
    measured = {}
    for n, conversation in conversations.items():
        opened = []
        for _ in range(RUNS):
            page.goto(f"{server.url}/?as=agent&conversation={conversation}")
            page.wait_for_function("window.__history && window.__history.paintedAt !== null", timeout=timeout_ms)
            expect(page.get_by_role("textbox", name="Message")).to_be_enabled(timeout=timeout_ms)
            t = page.evaluate(TIMING)
            if not (t["newest"] or "").startswith(f"Message {n - 1:05d}"):
                raise RuntimeError(f"the newest message shown is {t['newest']!r}, not message {n - 1}")
            opened.append({"visible_s": t["paintedAt"] / 1000, "arrived_ms": t["paintedAt"] - t["responseEnd"],
                           "page_bytes": t["bytes"]})
        at_open = held(page, cdp)
        scroll = page.evaluate(SCROLL, [SCROLL_PX, "Message 00000"])
        at_first = held(page, cdp)
        measured[n] = {"arrived_ms": statistics.median(o["arrived_ms"] for o in opened),
                       "visible_s": statistics.median(o["visible_s"] for o in opened),
                       "arrived_runs_ms": [o["arrived_ms"] for o in opened], "page_bytes": opened[0]["page_bytes"],
                       "open": at_open, "scroll": scroll, "at_first": at_first}
        log(f"  {n:,}: {measured[n]}")
    context.close()
    server.stop()
    rows = []
    for n, m in measured.items():
        s, o, f = m["scroll"], m["open"], m["at_first"]
        runs = m["arrived_runs_ms"]
        rows.append([f"{n:,}", f"{m['arrived_ms']:.0f} ms ({min(runs):.0f}–{max(runs):.0f})", f"{m['visible_s']:.2f} s",
                     f"{s['ms'] / 1000:.1f} s",
                     f"{s['longest_frame_ms']:.0f} / {s['p95_frame_ms']:.0f} ms", f"{s['long_tasks']}",
                     f"{o['dom_nodes']:,} -> {f['dom_nodes']:,}", f"{o['js_heap_mb']:.1f} -> {f['js_heap_mb']:.1f} MB",
                     f"{o['messages_in_python']} -> {f['messages_in_python']}",
                     f"{o['wasm_heap_mb']:.0f} -> {f['wasm_heap_mb']:.0f} MiB"])
        bench.summary.append([f"history {n:,} msgs", f"newest shown {m['arrived_ms']:.0f} ms after the data arrived; "
                              f"first message reached in {s['ms'] / 1000:.1f} s, longest frame "
                              f"{s['longest_frame_ms']:.0f} ms", f"DOM {f['dom_nodes']:,} nodes", "—",
                              f"≤ {GOAL_ARRIVED_MS} ms"])
    print_table(f"history (open: median of {RUNS}, warm; scroll: {SCROLL_PX} px per frame up to the first message; "
                "held: at open -> at the first message)",
                ["messages", "arrived -> newest visible", "navigation -> visible", "scroll to first",
                 "longest / p95 frame", "long tasks", "DOM nodes", "JS heap", "messages in Python", "Wasm heap"], rows)
    return {str(n): m for n, m in measured.items()}
