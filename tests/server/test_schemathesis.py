"""Schemathesis against a production-mode server, with an agent's token: zero findings.

It reads /api/openapi.json, sends what the document allows (and what it
forbids: missing, repeated and out-of-range parameters, wrong types, bodies
that break the schema), and checks every answer against the document: status
codes, headers, content types, JSON bodies and each Server-Sent Event, no 5xx,
invalid requests refused and valid ones accepted. Settings and budget (about
a minute, derandomized, so a failure reproduces): tests/server/schemathesis.toml.
What Schemathesis needs to speak tus: tests/server/schemathesis_hooks.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .production import PROD_CONFIG, mint, shared_server

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    yield from shared_server(tmp_path_factory, PROD_CONFIG)


def test_schemathesis_finds_nothing(prod, tmp_path):
    token = mint("u-schemathesis", "agent", ["*"], name="Schemathesis Agent", ttl=3600)
    cmd = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(HERE / "schemathesis.toml"), "run",
           f"{prod.url}/api/openapi.json", "--header", f"Authorization: Bearer {token}", "--workers", "1",
           "--no-color", "--report-dir", str(tmp_path / "report")]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HERE / "schemathesis_hooks.py"), "NO_COLOR": "1"}
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20_000:]
    operations = sum(m != "parameters" and m != "description" for item in prod.client().get(
        "/api/openapi.json").json()["paths"].values() for m in item)
    assert f"Tested: {operations}\n" in output, output[-5_000:]          # every operation was exercised
    assert "✅ Coverage" in output and "✅ Fuzzing" in output, output[-5_000:]
