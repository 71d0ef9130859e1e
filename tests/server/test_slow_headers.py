"""Idle sockets cannot lock everyone out: a request's headers must arrive within
`[server] timeout_request_headers`, or the connection is answered 408 and closed.

Real sockets against a real server process on 127.0.0.1. Before this, sockets
that sent one byte held their `limit_concurrency` slots for ever and every
other request was a 503.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from tools.services.attache import RunningServer

from .conftest import AGENT, lines, read_events, send
from .production import shared_server

SLOTS = 50
CONFIG = f"""
[identities]
agent = "agent-dev-token"
customer = "customer-dev-token"

[server]
limit_concurrency = {SLOTS}
timeout_request_headers = 1
"""


@pytest.fixture(scope="module")
def slow(tmp_path_factory) -> Iterator[RunningServer]:
    yield from shared_server(tmp_path_factory, CONFIG)


def address(server: RunningServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


@contextmanager
def loris(server: RunningServer, count: int, first_bytes: bytes = b"G") -> Iterator[list[socket.socket]]:
    """`count` connections that send `first_bytes` and then nothing."""
    with ExitStack() as stack:
        socks = []
        for _ in range(count):
            s = stack.enter_context(socket.create_connection(address(server), timeout=10))
            if first_bytes:
                s.sendall(first_bytes)
            socks.append(s)
        yield socks


def answer_within(server: RunningServer, deadline: float) -> list[int]:
    """GET /api/restrictions until it answers 200 or the deadline passes; every status seen."""
    seen: list[int] = []
    with httpx.Client(base_url=server.url, timeout=10) as c:
        while time.monotonic() < deadline:
            seen.append(c.get("/api/restrictions", headers={"Connection": "close"}).status_code)
            if seen[-1] == 200:
                break
    return seen


def read_response(s: socket.socket) -> bytes:
    """One whole response (headers and a Content-Length body) from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += s.recv(4096)
    return head + b"\r\n\r\n" + body


def closed_by_server(s: socket.socket) -> bytes:
    """Everything the server sends before it closes the socket (raises on timeout)."""
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    return data


@pytest.mark.parametrize("first_bytes", [b"G", b"GET / HTTP/1.1\r\nHost: x\r\n", b""])
def test_sockets_that_stall_before_the_headers_end_are_closed_and_others_get_in(slow, first_bytes):
    with loris(slow, 2 * SLOTS, first_bytes) as socks:
        seen = answer_within(slow, time.monotonic() + 30)
        assert seen[-1] == 200, f"still locked out: {seen[-5:]}"
        answers = [closed_by_server(s) for s in socks]     # each was told, then closed
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), {a[:40] for a in answers}


def test_a_kept_alive_connection_that_stalls_in_its_next_request_is_closed(slow):
    with socket.create_connection(address(slow), timeout=10) as s:
        s.sendall(b"GET /api/restrictions HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s).startswith(b"HTTP/1.1 200 ")
        s.sendall(b"GET /api/restrictions HTTP/1.1\r\nHo")    # and nothing more
        assert closed_by_server(s).startswith(b"HTTP/1.1 408 ")


def test_headers_sent_slowly_but_in_time_are_served(slow):
    with socket.create_connection(address(slow), timeout=10) as s:
        for piece in (b"GET /api/restr", b"ictions HTTP/1.1\r\n", b"Host: x\r\nConnection: close\r\n\r\n"):
            s.sendall(piece)
        assert closed_by_server(s).startswith(b"HTTP/1.1 200 ")


def test_the_deadline_ends_with_the_headers_streams_last(slow):
    """An event stream opened before a stalled socket's deadline passed still delivers after it."""
    with httpx.Client(base_url=slow.url, headers=AGENT, timeout=10) as c:
        with c.stream("GET", "/api/conversations/slow/events", params={"after": "0"}) as r:
            assert next(lines(r)) == "retry: 1000"
            with loris(slow, 1) as (stalled,):
                assert closed_by_server(stalled).startswith(b"HTTP/1.1 408 ")   # a deadline has passed
            with httpx.Client(base_url=slow.url, headers=AGENT, timeout=10) as other:
                assert send(other, "still here", cid="slow").status_code == 201
            assert read_events(r, 1)[0]["data"]["text"] == "still here"


def test_the_setting_is_checked_and_reaches_uvicorn(tmp_path):
    from server.__main__ import uvicorn_config
    from server.config.config_error import ConfigError
    from server.config.config_file import load_config

    path = tmp_path / "c.toml"
    path.write_text('[server]\ntimeout_request_headers = "10s"\n')
    assert uvicorn_config(object(), load_config(path), "warning").http.header_timeout == 10
    path.write_text('[server]\ntimeout_request_headers = 0\n')
    with pytest.raises(ConfigError, match="timeout_request_headers"):
        load_config(path)
