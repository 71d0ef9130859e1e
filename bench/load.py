#!/usr/bin/env python3
"""Many people at once: N agents each send files while M listeners follow live.

    python3 build.py bench load [--agents 200] [--listeners 100] [--files 2] [--file-mib 1]
                                [--processes 1,2]

Production mode (every person their own signed identity), over real HTTP to
real server processes on 127.0.0.1. Each agent uploads its files with tus
(create + one PATCH) and sends each in a message, a photo (JPEG, thumbnailed
by the server) then a PDF, every file's bytes distinct; each listener follows one
conversation over the event stream (a ticket, then SSE). A message counts as
*seen* when its listener reads its frame; send->seen runs from the moment the
agent starts the POST of the message. Nothing may be lost or seen twice. A
photo's thumbnail follows its message as an `update` event (not counted as
seen again); photo sent->thumbnail seen is reported beside.

`--processes 1` is the embedded default (SQLite, the data folder, one
process): the baseline. `--processes 2` (and 3, ...) runs that many server
processes on shared PostgreSQL, Redis and S3 (started here, as the tests start
them), every request sent to a process picked at random: no sticky sessions.
Where the time goes is reported per phase (upload, POST, POST answered ->
seen) and as CPU seconds per process, this client included: on a 2-core
machine the client's own work competes with the servers'. On the shared
services the database's finished transactions are counted as well (per
message): the round trips that hold the servers' event loops.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load_people import CONVERSATION_IDS, KEY, TLS, Run, agent, listen, photo
from load_processes import cpu_seconds, database_transactions, shared_services

from tools.services.attache import RunningServer


def write_config(folder: Path, shared: str, streams: int) -> Path:
    (folder / "jwt.key").write_bytes(KEY)
    config = folder / "config.toml"
    config.write_text(
        '[attachments]\nmax_file_size = "25 MB"\ndaily_bytes_per_identity = "5 GB"\nmax_open_uploads = 20\n\n'
        f"[server]\nlimit_concurrency = 4000\nmax_streams_per_identity = {streams}\n\n"
        '[auth]\nsecret_file = "jwt.key"\ntoken_url = "/attache/token"\n\n' + shared)
    return config


async def drive(urls: list[str], agents: int, listeners: int, files: int,
                payloads: dict[str, bytes]) -> tuple[Run, float]:
    run = Run()
    clients: list[httpx.AsyncClient] = []

    def browser() -> httpx.AsyncClient:
        """Each person's own connections, as each has a browser of their own (one shared pool of hundreds of
        connections costs httpx a scan of them all per request: the client's loop, not the server, was timed)."""
        clients.append(httpx.AsyncClient(timeout=httpx.Timeout(120), verify=TLS))
        return clients[-1]

    try:
        done = asyncio.Event()
        readies = [asyncio.Event() for _ in range(listeners)]
        listening = [asyncio.create_task(listen(urls, f"customer-{i}", CONVERSATION_IDS[i], run, readies[i], done,
                                                browser())) for i in range(listeners)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
        began = time.perf_counter()
        await asyncio.gather(*(agent(urls, f"agent-{i}", CONVERSATION_IDS[i % listeners], files, payloads, run,
                                     browser()) for i in range(agents)))
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and any(k not in run.seen or (k in run.photos and k not in run.thumbnailed)
                                                     for k in run.sent):
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - began
        done.set()
        for task in listening:
            task.cancel()
        await asyncio.gather(*listening, return_exceptions=True)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
    return run, wall


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(name: str, urls: list[str], pids: list[int], agents: int, listeners: int, files: int,
            payloads: dict[str, bytes], log, services: dict[str, int] | None = None) -> dict:
    """One variant's run; `services` (name -> pid) are counted in the CPU seconds too."""
    services = services or {}
    before = {pid: cpu_seconds(pid) for pid in [*pids, os.getpid()]}
    before_services = {name: cpu_seconds(pid, children=True) for name, pid in services.items()}
    run, wall = asyncio.run(drive(urls, agents, listeners, files, payloads))
    cpu = {pid: cpu_seconds(pid) - t for pid, t in before.items()}
    services_cpu = {name: round(cpu_seconds(services[name], children=True) - t, 1)
                    for name, t in before_services.items()}
    seen_once = {k: v[0] for k, v in run.seen.items() if k in run.sent}
    lost = [k for k in run.sent if k not in run.seen]
    doubled = [k for k, v in run.seen.items() if len(v) > 1]
    to_seen = [seen_once[k] - run.sent[k] for k in seen_once]
    post = [run.answered[k] - run.sent[k] for k in run.answered]
    answered_to_seen = [seen_once[k] - run.answered[k] for k in seen_once if k in run.answered]
    upload_to_seen = [seen_once[k] - run.began[k] for k in seen_once]
    to_thumbnail = [run.thumbnailed[k] - run.sent[k] for k in run.photos if k in run.thumbnailed and k in run.sent]
    cpu_s = {("client" if pid == os.getpid() else f"server {pids.index(pid)}"): round(t, 1)
             for pid, t in cpu.items()} | services_cpu
    busy = sum(cpu_s.values())
    result = {
        "variant": name, "processes": len(urls), "messages": len(run.sent), "lost": len(lost),
        "doubled": len(doubled), "errors": len(run.errors), "resent": run.resent, "wall_s": wall,
        "send_seen_p50_s": percentile(to_seen, 50), "send_seen_p95_s": percentile(to_seen, 95),
        "send_seen_max_s": max(to_seen, default=float("nan")),
        "post_p50_s": percentile(post, 50), "post_p95_s": percentile(post, 95),
        "answered_seen_p95_s": percentile(answered_to_seen, 95),
        "send_thumbnail_p50_s": percentile(to_thumbnail, 50), "send_thumbnail_p95_s": percentile(to_thumbnail, 95),
        "thumbnails_missing": len(run.photos & run.sent.keys()) - len(to_thumbnail),
        "upload_p50_s": percentile(run.uploaded, 50), "upload_p95_s": percentile(run.uploaded, 95),
        "upload_seen_p50_s": percentile(upload_to_seen, 50), "upload_seen_p95_s": percentile(upload_to_seen, 95),
        "cpu_s": cpu_s,
    }
    log(f"  {name}: {len(run.sent)} messages, lost {len(lost)}, doubled {len(doubled)}, errors {len(run.errors)}, "
        f"sent again {run.resent}, wall {wall:.1f} s")
    log(f"    send->seen p50 {result['send_seen_p50_s']:.3f} s, p95 {result['send_seen_p95_s']:.3f} s, "
        f"max {result['send_seen_max_s']:.3f} s; POST p50 {result['post_p50_s']:.3f} s p95 "
        f"{result['post_p95_s']:.3f} s; answered->seen p95 {result['answered_seen_p95_s']:.3f} s")
    log(f"    photo sent->its thumbnail seen p50 {result['send_thumbnail_p50_s']:.3f} s, p95 "
        f"{result['send_thumbnail_p95_s']:.3f} s; never seen {result['thumbnails_missing']}")
    log(f"    upload (create+PATCH) p50 {result['upload_p50_s']:.3f} s p95 {result['upload_p95_s']:.3f} s; "
        f"CPU s {result['cpu_s']}")
    log(f"    CPU of all the above {busy:.1f} s in {wall:.1f} s of wall on {os.cpu_count()} cores: "
        f"{busy / (wall * (os.cpu_count() or 1)):.0%} of the machine")
    log(f"    upload began->seen (the whole way, file and message) p50 {result['upload_seen_p50_s']:.3f} s "
        f"p95 {result['upload_seen_p95_s']:.3f} s")
    for line in run.errors[:5]:
        log(f"    error: {line}")
    return result


def run(processes: list[int], agents: int, listeners: int, files: int, file_mib: int, log) -> list[dict]:
    payloads = {"jpg": photo(file_mib), "pdf": b"%PDF-1.7\n" + os.urandom(file_mib * 1024 * 1024 - 9)}
    results = []
    for count in processes:
        folder = Path(tempfile.mkdtemp(prefix="attache-load-"))
        started: list[RunningServer] = []
        with contextlib.ExitStack() as stack:
            try:
                shared, services = "", dict[str, int]()
                if count > 1:
                    shared, _moto, services = shared_services(folder, stack)
                config = write_config(folder, shared, streams=5)
                started = [RunningServer(folder / f"data{i}", config, log=folder / f"server{i}.log").start(timeout=60)
                           for i in range(count)]
                name = "embedded default, 1 process" if count == 1 else f"shared services, {count} processes"
                log(f"\n{name}: {agents} agents x {files} files of {file_mib} MiB, {listeners} listeners")
                pids = [p.proc.pid for p in started if p.proc is not None]
                results.append(measure(name, [p.url for p in started], pids,
                                       agents, listeners, files, payloads, log, services))
            finally:
                for p in started:              # all at once, then each waited for (killed after 15 s)
                    if p.proc is not None:
                        p.proc.terminate()
                for p in started:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        p.stop(timeout=15)
            if shared:      # counted from the database's creation: start-up and migrations are a few dozen
                results[-1]["db_transactions"] = total = database_transactions(config)
                log(f"    database transactions (a statement on its own is one): {total}, "
                    f"{total / max(1, results[-1]['messages']):.1f} per message")
            shutil.rmtree(folder, ignore_errors=True)
    base = results[0]["send_seen_p95_s"] if results else float("nan")
    log("\n| variant | send->seen p50 | p95 | ratio (p95 / 1 process) | lost | doubled | wall |")
    log("|---|---|---|---|---|---|---|")
    for r in results:
        log(f"| {r['variant']} | {r['send_seen_p50_s']:.3f} s | {r['send_seen_p95_s']:.3f} s | "
            f"{r['send_seen_p95_s'] / base:.2f} | {r['lost']} | {r['doubled']} | {r['wall_s']:.1f} s |")
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="build.py bench load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--files", type=int, default=2, help="files per agent, one message each")
    parser.add_argument("--file-mib", type=int, default=1)
    parser.add_argument("--processes", default="1,2", help="server processes per variant (1 = embedded default)")
    args = parser.parse_args(argv)
    if not 1 <= args.listeners <= len(CONVERSATION_IDS):
        parser.error(f"--listeners must be 1..{len(CONVERSATION_IDS)}")
    results = run([int(p) for p in args.processes.split(",")], args.agents, args.listeners, args.files,
                  args.file_mib, lambda text="": print(text, flush=True))
    bad = [r for r in results if r["lost"] or r["doubled"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
