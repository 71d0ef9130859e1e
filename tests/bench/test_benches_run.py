"""The benchmarks still run, in small: a gauge broken by a change elsewhere (a config it writes that the server
now refuses, say) is found here, not by the next person who wants its figures."""

from __future__ import annotations

import subprocess
import sys

from tools.services.attache import ROOT


def bench(*args: str) -> str:
    done = subprocess.run([sys.executable, "bench/run.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"bench {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_load_bench_runs_on_one_process_and_on_the_shared_services():
    out = bench("load", "--agents", "6", "--listeners", "3", "--processes", "1,2")
    assert "embedded default, 1 process: 12 messages, lost 0, doubled 0, errors 0" in out
    assert "shared services, 2 processes: 12 messages, lost 0, doubled 0, errors 0" in out


def test_the_s3_upload_bench_runs_against_a_bucket_and_its_services():
    out = bench("upload-s3", "--upload-mib", "8")
    assert "| upload_s3 8 MiB | app " in out and "moto alone / plain fetch" in out
