"""Start-up: Python comes from the memory snapshot build.py made; a snapshot that
is missing, unreadable or made from other inputs is not used, the page starts
the normal way and the console says why. Every file the page loads, apart from
the two pages, its config and the API, is a content-hashed, immutable asset."""
from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests import files
from tests.e2e.conftest import wait_ready
from tests.e2e.test_canvas import attach

SNAPSHOT = re.compile(r"/assets/snapshot\.[0-9a-f]{12}\.bin$")
LOADER = re.compile(r"/assets/attache-pyodide\.[0-9a-f]{12}\.mjs$")
PYSCRIPT_CORE = re.compile(r"/assets/pyscript-[0-9a-f]{12}/core\.js$")


@pytest.fixture()
def start(browser, reference_server, offsite_guard, conversation):
    """start(route=None) -> (page, console messages, responses); `route(context)` may intercept first."""
    contexts = []

    def start_(route=None):
        context = browser.new_context()
        contexts.append(context)
        if route is not None:
            route(context)
        page = context.new_page()
        offsite_guard.watch(page)
        messages, responses = [], []
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        page.on("response", lambda r: responses.append(r))
        page.goto(f"{reference_server.url}/?as=agent&conversation={conversation}")
        wait_ready(page)
        return page, messages, responses

    yield start_
    for context in contexts:
        context.close()


def python_start(page) -> str:
    return page.evaluate("document.documentElement.dataset.pythonStart")


def still_works(page, tmp_path) -> None:
    attach(page, files.write(tmp_path, "invoice.pdf", files.PDF))
    page.get_by_role("textbox", name="Message").fill("sent after a slow start")
    page.get_by_role("button", name="Send").click()
    delivered = page.get_by_role("log", name="Conversation").locator("article:not(.pending)")
    expect(delivered).to_have_count(1)
    expect(delivered.get_by_role("link", name=re.compile("invoice.pdf"))).to_be_visible()


def test_python_starts_from_the_memory_snapshot(start, reference_server, pytestconfig):
    page, messages, responses = start()
    assert python_start(page) == "snapshot"
    assert any(m.startswith("info: Attache: Python restored from its memory snapshot") for m in messages)
    assert not [m for m in messages if m.startswith(("warning", "error"))]
    loaded = {urlsplit(r.url).path: r for r in responses if r.url.startswith(reference_server.url)}
    assert any(SNAPSHOT.search(path) for path in loaded)
    for path, response in loaded.items():
        if path in ("/", "/pyscript.toml", "/attache-config.json") or path.startswith(("/api/", "/media/")):
            continue
        assert path.startswith("/assets/"), f"{path} is not a hashed asset"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable", path
    wasm = next(r for p, r in loaded.items() if p.endswith("/pyodide.asm.wasm"))
    assert wasm.headers.get("content-encoding") == "br"        # Chromium accepts br; the build made it
    if pytestconfig.getoption("--mode") == "production":         # drawn without messages: revalidated
        assert loaded["/"].headers["cache-control"] == "no-cache" and loaded["/"].headers["etag"]
    else:
        assert loaded["/"].headers["cache-control"] == "no-store"    # it holds the conversation's messages
    assert loaded["/pyscript.toml"].headers["cache-control"] == "no-cache"


def test_a_missing_snapshot_falls_back_to_a_normal_start(start, tmp_path):
    page, messages, _ = start(lambda c: c.route(SNAPSHOT, lambda route: route.fulfill(status=404, body="gone")))
    assert python_start(page) == "fallback"
    assert any(m.startswith("warning: Attache: no snapshot at") and "HTTP 404" in m
               and "starting Python without it" in m for m in messages), messages
    still_works(page, tmp_path)


def test_an_unreadable_snapshot_falls_back_to_a_normal_start(start, tmp_path):
    garbage = bytes(range(256)) * 64      # not a snapshot: wrong magic number, wrong build id
    page, messages, _ = start(lambda c: c.route(SNAPSHOT, lambda route: route.fulfill(
        status=200, body=garbage, headers={"Content-Type": "application/octet-stream"})))
    assert python_start(page) == "fallback"
    assert any(m.startswith("warning: Attache: the snapshot cannot be used") for m in messages), messages
    still_works(page, tmp_path)


def test_a_snapshot_made_from_other_inputs_falls_back_to_a_normal_start(start, tmp_path):
    """The loader expects another key than the one the (real, valid) snapshot holds,
    as when a snapshot of other app code or libraries were served."""
    def expect_another_key(route):
        body = route.fetch().text()
        changed = re.sub(r'SNAPSHOT_KEY = "[0-9a-f]+"', 'SNAPSHOT_KEY = "0000000000000000"', body)
        assert changed != body
        route.fulfill(body=changed, headers={"Content-Type": "text/javascript"})

    page, messages, _ = start(lambda c: c.route(LOADER, expect_another_key))
    assert python_start(page) == "fallback"
    assert any(m.startswith("warning: Attache: the snapshot was made for other inputs") for m in messages), messages
    still_works(page, tmp_path)


def test_pyscripts_own_package_comes_precompiled(reference_server):
    """PyScript writes its Python package into the file system and imports it at every
    start; the page's files bring unchecked-hash .pyc files of it (made by the build with
    the same Pyodide), so it is not compiled in the page. (The sources get new mtimes there.)"""
    page = httpx.get(f"{reference_server.url}/").text                  # preloaded for the start
    pycache = re.search(r'"\./(assets/pycache\.[0-9a-f]{12}\.zip)"', page).group(1)
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(f"{reference_server.url}/{pycache}").content))
    pycs = {name: archive.read(name) for name in archive.namelist() if name.startswith("pyscript/__pycache__/")}
    modules = {name.split("/")[-1].split(".")[0] for name in pycs}
    assert {"__init__", "context", "display", "ffi", "util", "web"} <= modules, modules
    assert all(int.from_bytes(data[4:8], "little") == 0b01 for data in pycs.values())   # hash-based, unchecked
    assert any(name.startswith("app/browser/__pycache__/") for name in archive.namelist())


def test_an_archive_that_cannot_be_unpacked_is_named(browser, reference_server, conversation):
    """The loader unpacks pyscript.toml's zips itself: one it cannot have is named, with what to do,
    and the canvas stays closed (nothing can be sent)."""
    context = browser.new_context()
    try:
        context.route(re.compile(r"/assets/app\.[0-9a-f]{12}\.zip$"), lambda route: route.fulfill(status=404, body="gone"))
        page = context.new_page()
        with page.expect_console_message(lambda m: m.type == "error" and "Attache cannot unpack" in m.text) as message:
            page.goto(f"{reference_server.url}/?as=agent&conversation={conversation}")
        text = message.value.text
        assert "/assets/app." in text and "HTTP 404" in text and "Reload the page" in text, text
        expect(page.get_by_role("form", name="Message composer")).to_have_attribute("aria-busy", "true")
        assert page.evaluate("document.documentElement.dataset.pythonStart") is None
    finally:
        context.close()


def marks(page, name: str) -> list[float]:
    return page.evaluate("(name) => performance.getEntriesByName(name).map(e => e.startTime)", name)


def test_python_starts_without_waiting_for_pyscript(browser, reference_server, conversation):
    """The loader starts Python when it is evaluated (a module script of the page), while PyScript
    still reads its config and opens IndexedDB. With PyScript's module held back (it never asks),
    Python still starts and its zips are unpacked."""
    context = browser.new_context()
    try:
        context.route(PYSCRIPT_CORE, lambda route: route.fulfill(body="", headers={"Content-Type": "text/javascript"}))
        page = context.new_page()
        page.goto(f"{reference_server.url}/?as=agent&conversation={conversation}")
        page.wait_for_function("document.documentElement.dataset.pythonStart === 'snapshot'")
        assert marks(page, "attache:python-asked") == []
        assert len(marks(page, "attache:python-boot")) == 1
    finally:
        context.close()
