#!/usr/bin/env python3
"""Attache benchmarks: figures beside a baseline measured in the same run.

    python3 build.py bench [startup|upload|history|matrix ...] [--json FILE]
                           [--upload-mib N] [--compare NAME=URL]
    python3 build.py bench load [--agents N] [--listeners N] [--processes 1,2]   (bench/load.py)

One module per gauge: startup (bench/startup.py), upload (bench/upload.py), upload-s3 (bench/storage.py),
history (bench/history.py), matrix (bench/matrix.py), load (bench/load.py; its agents and listeners in
bench/load_people.py, the shared services and the CPU counts in bench/load_processes.py);
bench/harness.py is what the browser gauges share (contexts, servers, the readiness probe, tables).
This file only dispatches.

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
- upload (bench/upload.py): one large file sent through the app UI (Attach file -> Send ->
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
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness
import history
import startup
import upload
from harness import log
from playwright.sync_api import sync_playwright

from tools.services.chromium import CHROMIUM_FLAGS, chromium_executable


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
    executable = chromium_executable() or "/usr/bin/chromium"
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
            bench = harness.Bench(browser, workdir)
            try:
                if "startup" in chosen:
                    startup.bench_startup(bench, dict(item.split("=", 1) for item in args.compare))
                if "upload" in chosen:
                    upload.bench_upload(bench, args.upload_mib)
                if "upload-s3" in chosen:
                    import storage  # bench/storage.py: the same upload into an S3 bucket (moto)
                    storage.run(bench, args.upload_mib)
                if "history" in chosen:
                    sizes = tuple(int(x) for x in args.history_sizes.split(","))
                    bench.results["history"] = history.run(bench, sizes, harness.log, harness.print_table,
                                                           harness.READY_TIMEOUT_MS)
                if "matrix" in chosen:
                    import matrix  # bench/matrix.py: the page on a Synapse of its own
                    matrix.run(bench, args.upload_mib, args.matrix_events)
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
