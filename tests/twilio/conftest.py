"""Fixtures of the bridge's own tests; the rig (Prism, stand-ins, a kind = "twilio" server) is tests/twilio/rig.py."""
from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.twilio.rig import AUTH_TOKEN, KEY_SECRET, twilio_table


def pytest_pyfunc_call(pyfuncitem: Any) -> bool | None:
    """Run `async def` tests on a fresh event loop in a thread of their own.

    Why not anyio's or asyncio's runner on the main thread: once the browser
    tests have started Playwright's sync API, an event loop is already running
    there for the rest of the session, and a second one cannot start. Async
    clean-ups registered with `aclose_later` run on the test's loop, after it.
    """
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    closers = pyfuncitem.funcargs.get("aclose_later", [])

    async def main() -> None:
        try:
            await pyfuncitem.obj(**kwargs)
        finally:
            for close in reversed(closers):
                await close()

    failure: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(failure, asyncio.run, main()), name="async-test")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return True


def _capture(failure: list[BaseException], fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except BaseException as e:  # noqa: BLE001 - re-raised on the test's thread
        failure.append(e)


@pytest.fixture
def aclose_later() -> list[Any]:
    """Async clean-ups (`await f()`) for the async test's own loop."""
    return []



@pytest.fixture
def secret_files(tmp_path) -> Path:
    (tmp_path / "twilio-api-key.secret").write_text(KEY_SECRET + "\n")
    (tmp_path / "twilio-auth-token.secret").write_text(AUTH_TOKEN + "\n")
    return tmp_path



@pytest.fixture
def settings(secret_files, prism, fake, contract) -> Any:
    from server.config.twilio_config import TwilioSettings
    return TwilioSettings.from_mapping(twilio_table(prism.url, fake.mcs_url), secret_files)


@pytest.fixture
def bridge(settings, tmp_path, aclose_later) -> Any:
    """A bridge for one async test (its HTTP pool lives on that test's loop)."""
    from app.core.restrictions import Restrictions
    from server.bridges.twilio.bridge import TwilioBridge
    b = TwilioBridge(settings, Restrictions(25_000_000, ("image/*", ".pdf", ".txt"), 1), tmp_path / "ledger.sqlite3")
    aclose_later.append(b.aclose)
    return b



@pytest.fixture
def http_probe() -> Any:
    """A plain client for requests the tests make themselves (never the bridge's pool)."""
    with httpx.Client(timeout=10) as client:
        yield client

