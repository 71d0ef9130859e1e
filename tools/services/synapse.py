"""A real Synapse homeserver for the tests and the benches: installed from PyPI, configured, started, stopped.

Synapse lives in its own virtual environment (``.venv-synapse`` in the repo
root, ignored by git): it pins its own large dependency tree (Twisted,
cryptography, pydantic...) that must not mix with the app's. The venv is made
once and reused while ``synapse.lock`` is unchanged (a stamp file holds the
lock's digest), like build.py does for ``.venv``.

The configuration is written as JSON (JSON is YAML, so no PyYAML is needed
here): SQLite, one HTTP listener on 127.0.0.1 with only the client API, no
federation, no open registration, no URL previews, rate limits loosened so
the tests never trip them by accident.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import time
import venv
from dataclasses import dataclass
from pathlib import Path

import httpx

from tools.services.process import answers_http, await_answer

ROOT = Path(__file__).resolve().parents[2]
LOCK = Path(__file__).with_name("synapse.lock")
VENV = ROOT / ".venv-synapse"
SERVER_NAME = "localhost"
#: Synapse's own limit in the tests: small, so "too large" costs a few MiB.
MAX_UPLOAD_SIZE = 2 * 2**20
PASSWORD = "attache-test-password"
ELEMENT_NAME = "Elena <from Element>"  # the "element" user's display name (escaping is the renderer's job)
LOOSE = {"per_second": 1000, "burst_count": 1000}


def _python() -> Path:
    return VENV / "bin" / "python"


def ensure_synapse() -> Path:
    """Install the pinned Synapse into .venv-synapse unless it is already there; its python."""
    stamp = VENV / ".attache-lock"
    key = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if _python().exists() and stamp.exists() and stamp.read_text() == key:
        return _python()
    if not _python().exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    done = subprocess.run(
        # Byte-compiled here, once: with PYTHONDONTWRITEBYTECODE set (as on some machines)
        # every start would otherwise compile Synapse's imports again.
        [str(_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(LOCK)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"installing Synapse from {LOCK.name} failed:\n{done.stdout[-5000:]}")
    stamp.write_text(key)
    return _python()


def config(data: Path, port: int, max_upload_size: int = MAX_UPLOAD_SIZE) -> dict:
    """The homeserver.yaml (as JSON) for a test server on 127.0.0.1:port."""
    return {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(data / "homeserver.pid"),
        "listeners": [{
            "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
            "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}],
        }],
        "database": {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}},
        "log_config": str(data / "log.config"),
        "media_store_path": str(data / "media_store"),
        "signing_key_path": str(data / "signing.key"),
        "max_upload_size": max_upload_size,
        "enable_registration": False,
        "bcrypt_rounds": 4,  # test accounts: cheap password hashing (the default costs ~0.3 s a login)
        "registration_shared_secret": secrets.token_hex(16),
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        "enable_metrics": False,
        # Strict for everyone; the fixture lifts it per user (admin API), leaving one
        # user who can provoke M_LIMIT_EXCEEDED.
        "rc_message": {"per_second": 0.001, "burst_count": 3},
        "rc_registration": LOOSE,
        "rc_login": {"address": LOOSE, "account": LOOSE, "failed_attempts": LOOSE},
        "rc_joins": {"local": LOOSE, "remote": LOOSE},
        "rc_joins_per_room": LOOSE,
        "rc_invites": {"per_room": LOOSE, "per_user": LOOSE, "per_issuer": LOOSE},
        "rc_admin_redaction": LOOSE,
        "rc_media_create": LOOSE,
    }


def log_config(log: Path) -> dict:
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(log),
                              "formatter": "plain", "level": "INFO"}},
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


@dataclass
class User:
    name: str
    user_id: str
    token: str


class Synapse:
    """One Synapse process on a free 127.0.0.1 port with its data in ``data``."""

    def __init__(self, data: Path, port: int, max_upload_size: int = MAX_UPLOAD_SIZE) -> None:
        self.data, self.port, self.max_upload_size = data, port, max_upload_size
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = data / "homeserver.yaml"
        self.log = data / "homeserver.log"
        self.proc: subprocess.Popen | None = None
        self.timings: dict[str, float] = {}

    def start(self, python: Path, timeout: float = 60) -> Synapse:
        self.data.mkdir(parents=True, exist_ok=True)
        (self.data / "log.config").write_text(json.dumps(log_config(self.log)))
        self.config_path.write_text(json.dumps(config(self.data, self.port, self.max_upload_size), indent=1))
        began = time.monotonic()
        with open(self.data / "stdout.log", "ab") as out:   # Synapse writes to its own copy of the descriptor
            self.proc = subprocess.Popen(
                [str(python), "-m", "synapse.app.homeserver", "--config-path", str(self.config_path)],
                cwd=self.data, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        await_answer(self.proc, answers_http(self.url + "/_matrix/client/versions"), "Synapse",
                     self.data / "stdout.log", timeout)
        self.timings["start"] = time.monotonic() - began
        return self

    def output(self) -> str:
        parts = [p.read_text(errors="replace")[-5000:] for p in (self.data / "stdout.log", self.log)
                 if p.exists()]
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # ---- accounts -------------------------------------------------------------------
    def register(self, python: Path, names: dict[str, bool]) -> None:
        """``register_new_matrix_user`` (shared secret) for each ``{name: is_admin}``, run side by side."""
        tool = python.parent / "register_new_matrix_user"
        running = [
            subprocess.Popen([str(tool), "-c", str(self.config_path), "-u", name, "-p", PASSWORD,
                              "--admin" if admin else "--no-admin", self.url],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for name, admin in names.items()
        ]
        for name, proc in zip(names, running, strict=True):
            out, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"register_new_matrix_user {name} failed: {out.decode(errors='replace')}")

    def login(self, name: str, device: str = "") -> User:
        body: dict = {"type": "m.login.password", "password": PASSWORD,
                      "identifier": {"type": "m.id.user", "user": name}}
        if device:
            body["device_id"] = device
        answer = httpx.post(self.url + "/_matrix/client/v3/login", json=body, timeout=30)
        answer.raise_for_status()
        data = answer.json()
        return User(name, data["user_id"], data["access_token"])

    def client(self, user: User) -> httpx.Client:
        """A plain client-server API client acting as ``user`` (what another Matrix client does)."""
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {user.token}"})


def populate(server: Synapse, python: Path, names: tuple[str, ...], strict: tuple[str, ...] = ()) -> dict[str, User]:
    """Register ``admin`` (a server admin) and ``names``, log each in, and lift the message rate
    limit for all but ``strict`` (who can then provoke M_LIMIT_EXCEEDED)."""
    server.register(python, {"admin": True, **{name: False for name in names}})
    users = {name: server.login(name) for name in ("admin", *names)}
    with server.client(users["admin"]) as admin:
        for name in users:
            if name not in strict:
                admin.post(f"/_synapse/admin/v1/users/{users[name].user_id}/override_ratelimit",
                           json={"messages_per_second": 0, "burst_count": 0}).raise_for_status()
    return users


def create_room(server: Synapse, users: dict[str, User], alias: str, guests: tuple[str, ...],
                creator: str = "agent") -> str:
    """A private room made by ``creator`` with ``alias``, joined by ``guests``; its id."""
    with server.client(users[creator]) as owner:
        answer = owner.post("/_matrix/client/v3/createRoom", json={
            "preset": "private_chat", "name": "Support 1042", "room_alias_name": alias[1:].split(":")[0],
            "invite": [users[name].user_id for name in guests]})
        answer.raise_for_status()
        room_id = answer.json()["room_id"]
    for name in guests:
        with server.client(users[name]) as guest:
            guest.post(f"/_matrix/client/v3/join/{room_id}").raise_for_status()
    return room_id
