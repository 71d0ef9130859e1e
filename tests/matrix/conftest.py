"""A real Synapse for the session: installed once (cached venv), started once, stopped at the end.

For the page tests (test_page.py): Attache's server in `[backend] kind = "matrix"` mode
pointing at it (started once), and the browser fixtures of tests/e2e (Chromium, the
guard against requests off 127.0.0.1 -- the homeserver listens there too).

Users: ``agent`` (creates the room), ``customer`` and ``element`` (joined),
``hasty`` (joined, the one user still under Synapse's strict message rate
limit, to provoke M_LIMIT_EXCEEDED) and ``admin`` (a server admin, not in
the room). The room has the alias ``#support:localhost`` and the room
version Synapse picks by default (12: a room id without ``:server``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from tools.services.attache import RunningServer

from tools.services.process import free_port
from tests.e2e.conftest import browser_context_args, browser_type_launch_args, offsite_guard  # noqa: F401
from tools.services.synapse import ELEMENT_NAME, SERVER_NAME, Synapse, User, create_room, ensure_synapse, populate

ALIAS = f"#support:{SERVER_NAME}"
_TIMINGS: dict[str, float] = {}


@dataclass
class Homeserver:
    server: Synapse
    users: dict[str, User]
    room_id: str
    alias: str = ALIAS
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def synapse_python():
    began = time.monotonic()
    python = ensure_synapse()
    _TIMINGS["install (or reuse) .venv-synapse"] = time.monotonic() - began
    return python


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory, synapse_python):
    server = Synapse(tmp_path_factory.mktemp("synapse"), free_port())
    server.start(synapse_python)
    _TIMINGS["start Synapse"] = server.timings["start"]
    try:
        began = time.monotonic()
        users = populate(server, synapse_python, ("agent", "customer", "element", "hasty"), strict=("hasty",))
        room_id = create_room(server, users, ALIAS, ("customer", "element", "hasty"))
        with server.client(users["element"]) as element:  # a display name other than the localpart
            element.put(f"/_matrix/client/v3/profile/{users['element'].user_id}/displayname",
                        json={"displayname": ELEMENT_NAME}).raise_for_status()
        _TIMINGS["register users, log in, create the room"] = time.monotonic() - began
        yield Homeserver(server, users, room_id, timings=dict(_TIMINGS))
    finally:
        server.stop()


def attache_config(hs: Homeserver, tokens: dict[str, str], room: str = "") -> str:
    """Attache's TOML for the page on this homeserver; `tokens`: identity -> access token."""
    lines = ["[backend]", 'kind = "matrix"', f'homeserver = "{hs.url}"', f'room = "{room or hs.alias}"',
             "", "[backend.identities]", *(f'{name} = "{token}"' for name, token in tokens.items())]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def attache(homeserver, tmp_path_factory):
    """Attache serving the page for the session's room: agent, customer, element, and admin (not in the room)."""
    base = tmp_path_factory.mktemp("attache-matrix")
    config = base / "attache.toml"
    config.write_text(attache_config(homeserver, {name: homeserver.users[name].token
                                                  for name in ("agent", "customer", "element", "admin")}))
    server = RunningServer(base / "data", config).start()
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter):
    if _TIMINGS:
        terminalreporter.section("Synapse fixture timings")
        for what, seconds in _TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds:.1f} s")
