"""The offline Twilio rig (a pytest plugin, loaded by tests/conftest.py, so one runs per session): Prism validating against Twilio's OpenAPI document, and the stand-ins.

Started once per session: the two stand-ins (uvicorn in threads) and one Prism
process, `prism proxy SPEC UPSTREAM --errors`. In proxy mode Prism checks every
request against Twilio's published Conversations v1 contract (a violation is
answered 422 and never reaches the stand-in) and every stand-in answer against
the same document. Tests isolate themselves with fresh conversation SIDs.

The spec is used as shipped except for one mechanical fix, made in a copy:
`nullable: true` on schemas that have no `type` (24 of them, e.g. a message's
`delivery`) makes Prism's JSON-schema compiler throw, and Prism then skips
response validation silently. A typeless schema already admits null, so
dropping the keyword changes nothing it accepts.
"""
from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.twilio.fake import FakeTwilio, sid
from tools.services.attache import ROOT, RunningServer
from tools.services.process import await_answer, free_port, stop_process
from tools.waiting import wait_until

SPEC = ROOT / "node_modules" / "@twilio-alpha" / "mcp" / "twilio-oai" / "spec" / "json" / "twilio_conversations_v1.json"
PRISM = ROOT / "node_modules" / ".bin" / "prism"
ACCOUNT_SID, SERVICE_SID, KEY_SID = sid("AC"), sid("IS"), sid("SK")
KEY_SECRET, AUTH_TOKEN = "test-api-key-secret-0123456789", "test-auth-token-abcdef0123456789"
PUBLIC_URL = "https://attache.example.com"
_FAILURE = re.compile(r"Violation: .*|Request terminated with error: .*")



class ThreadedServer:
    """A Starlette app on uvicorn in a daemon thread, on a free 127.0.0.1 port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "ThreadedServer":
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), "the stand-in server starts")
        if not self.server.started:
            raise RuntimeError("stand-in server did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _drop_typeless_nullable(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("nullable") is True and "type" not in node and "$ref" not in node:
            node = {k: v for k, v in node.items() if k != "nullable"}
        return {k: _drop_typeless_nullable(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_drop_typeless_nullable(v) for v in node]
    return node



@pytest.fixture(scope="session")
def twilio_spec() -> dict[str, Any]:
    if not SPEC.exists() or not PRISM.exists():
        pytest.fail(f"{SPEC.relative_to(ROOT)} or Prism is missing: run `python3 build.py setup` (npm ci)")
    return json.loads(SPEC.read_text())


@pytest.fixture(scope="session")
def fake(twilio_spec) -> Any:
    twilio = FakeTwilio(twilio_spec, ACCOUNT_SID, SERVICE_SID, KEY_SID, KEY_SECRET)
    conversations = ThreadedServer(twilio.conversations_app()).start()
    mcs = ThreadedServer(twilio.mcs_app()).start()
    twilio.mcs_url = mcs.url
    twilio.conversations_url = conversations.url
    yield twilio
    conversations.stop()
    mcs.stop()



class Prism:
    def __init__(self, spec_path: Path, upstream: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = open(log, "wb")
        self.proc = subprocess.Popen([str(PRISM), "proxy", str(spec_path), upstream, "-h", "127.0.0.1",
                                      "-p", str(self.port), "--errors"], cwd=ROOT, stdout=self._out,
                                     stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 90) -> "Prism":
        try:
            await_answer(self.proc, lambda: "Prism is listening" in self.output(), "Prism", self.log, timeout)
        except RuntimeError:
            self._out.close()
            raise
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def failures(self, since: int = 0, until: int | None = None) -> list[str]:
        """Contract failures Prism logged between two offsets (request or response violations)."""
        return [line for line in self.output()[since:until].splitlines()
                if "error" in line and _FAILURE.search(line) and "attache-log-marker-" not in line]

    def stop(self) -> None:
        stop_process(self.proc)
        self._out.close()


@pytest.fixture(scope="session")
def prism(fake, twilio_spec, tmp_path_factory) -> Any:
    folder = tmp_path_factory.mktemp("prism")
    spec_path = folder / "twilio_conversations_v1.json"
    spec_path.write_text(json.dumps(_drop_typeless_nullable(twilio_spec)))
    server = Prism(spec_path, fake.conversations_url, folder / "prism.log").wait()
    yield server
    server.stop()


class Contract:
    """Per test: Prism's contract failures since the test began; any unexpected one fails the test.

    Prism writes its log asynchronously, so "nothing logged" is only known once
    a marker request sent afterwards has been logged (its log is in order).
    """

    def __init__(self, prism: Prism) -> None:
        self.prism, self.expected = prism, False
        self.start = self._mark()

    def _mark(self) -> int:
        token = f"attache-log-marker-{secrets.token_hex(8)}"
        httpx.get(f"{self.prism.url}/{token}", timeout=30)
        done = re.compile(re.escape(token) + r".*Request terminated.*\n")   # Prism's last line for it
        return wait_until(lambda: done.search(self.prism.output()), "Prism logs the marker request", 30).end()

    def failures(self) -> list[str]:
        end = self._mark()
        return self.prism.failures(self.start, end)


@pytest.fixture
def contract(prism) -> Any:
    guard = Contract(prism)
    yield guard
    if not guard.expected:
        assert guard.failures() == [], "requests or answers broke Twilio's OpenAPI contract"



def twilio_table(api_base_url: str = "", media_base_url: str = "") -> dict[str, str]:
    table = {"account_sid": ACCOUNT_SID, "api_key_sid": KEY_SID, "api_key_secret_file": "twilio-api-key.secret",
             "auth_token_file": "twilio-auth-token.secret", "chat_service_sid": SERVICE_SID, "public_url": PUBLIC_URL}
    if api_base_url:
        table["api_base_url"] = api_base_url
    if media_base_url:
        table["media_base_url"] = media_base_url
    return table



def participants(*channels: str) -> list[dict[str, Any]]:
    """Participants by channel name: "chat", "sms", "whatsapp", "whatsapp-as-sms"."""
    made = {"chat": {"identity": "agent", "messaging_binding": None},
            "sms": {"identity": None, "messaging_binding": {"type": "sms", "address": "+15558675310",
                                                            "proxy_address": "+15017122661"}},
            "whatsapp": {"identity": None, "messaging_binding": {"type": "whatsapp", "address": "whatsapp:+15558675310",
                                                                 "proxy_address": "whatsapp:+15017122661"}},
            "whatsapp-as-sms": {"identity": None, "messaging_binding": {"type": "sms", "address": "whatsapp:+1555867",
                                                                        "proxy_address": "whatsapp:+1501712"}}}
    return [made[c] for c in channels]



def write_twilio_config(folder: Path, api_base_url: str, media_base_url: str, attachments: str = "") -> Path:
    """A `[backend] kind = "twilio"` config file and its two secret files, in `folder`."""
    (folder / "twilio-api-key.secret").write_text(KEY_SECRET + "\n")
    (folder / "twilio-auth-token.secret").write_text(AUTH_TOKEN + "\n")
    table = "\n".join(f'{k} = "{v}"' for k, v in twilio_table(api_base_url, media_base_url).items())
    config = folder / "attache.toml"
    config.write_text(f'[backend]\nkind = "twilio"\n\n[twilio]\n{table}\n\n{attachments}')
    return config


@pytest.fixture(scope="session")
def twilio_server(prism, fake, tmp_path_factory) -> Any:
    """`python -m server` with kind = "twilio", reaching Twilio through Prism and MCS at the stand-in.

    The page and the tests reach it at 127.0.0.1; Twilio's signatures are over
    PUBLIC_URL, as behind a reverse proxy. One per session; tests isolate
    themselves with fresh conversation SIDs.
    """
    folder = tmp_path_factory.mktemp("twilio-server")
    server = RunningServer(folder / "data", write_twilio_config(folder, prism.url, fake.mcs_url)).start()
    yield server
    server.stop()
