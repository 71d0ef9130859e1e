"""Shared by every test folder: the `--mode` option, the reference servers' fixtures (tests/servers.py),
the Twilio rig's, and `run_async`."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

# The servers' fixtures; the Twilio rig's session fixtures (Prism, stand-ins, a kind = "twilio" server),
# for tests/twilio and tests/e2e alike.
pytest_plugins = ["tests.servers", "tests.twilio.rig"]


def run_async(coro):
    """`asyncio.run(coro)` on a thread of its own: in a full run the browser tests' Playwright loop
    may be running in this thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def pytest_addoption(parser):
    parser.addoption("--mode", choices=("development", "production"), default="development",
                     help="browser tests against a development server, or a production one (signed tokens "
                          "from a portal on another origin; see tests/e2e/production.py)")
