"""Our page's uploader against a tus server nobody here wrote: @tus/server + @tus/file-store (npm, pinned).

The page is the `dist` bundle on a portal's plain static server, its config
(as a portal would serve it) pointing the conversation API at the reference
server and `backend.uploader` at @tus/server on a third origin. @tus/server
answers a root-relative Location (`/files/<id>`), which the page must resolve
against the creation URL, not its own origin. The file must arrive byte for
byte in @tus/server's store, and the message must refer to that upload.
(The other direction, tus-js-client against our server: tests/server/test_tus_interop.py.)
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import httpx
import pytest
from playwright.sync_api import expect

from tests import files
from tools.services.attache import ROOT, RunningServer
from tools.services.process import await_answer, free_port, stop_process
from tests.e2e.conftest import wait_ready
from tests.e2e.holds import PatchHold, release, wait_for
from tests.e2e.test_canvas import attach
from tests.e2e.test_deployment import StaticSite

SCRIPT = ROOT / "tests" / "e2e" / "tus_server.mjs"
TUS = {"Tus-Resumable": "1.0.0"}


class NodeTusServer:
    def __init__(self, store) -> None:
        self.store = store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.endpoint = self.url + "/files"
        self.log = open(store.parent / "tus-server.log", "wb")
        args = {"port": self.port, "directory": str(store), "maxSize": 100_000_000}
        self.proc = subprocess.Popen([shutil.which("node") or "node", str(SCRIPT), json.dumps(args)], cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:
            await_answer(self.proc, self.answers, "@tus/server", store.parent / "tus-server.log", 20)
        except RuntimeError:
            self.log.close()
            raise

    def answers(self) -> bool:
        try:
            return httpx.options(self.endpoint, timeout=1).headers.get("tus-version") == "1.0.0"
        except httpx.TransportError:
            return False

    def offset(self, upload_url: str) -> int | None:
        answer = httpx.head(upload_url, headers=TUS)
        return int(answer.headers["upload-offset"]) if answer.status_code == 200 else None

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


@pytest.fixture(scope="session")
def node_tus_server(tmp_path_factory):
    """@tus/server with a file store, once per session, on a free 127.0.0.1 port."""
    assert shutil.which("node"), "Node.js is needed for the tus interop tests"
    assert (ROOT / "node_modules" / "@tus" / "server").is_dir(), "run `python3 build.py setup` (npm ci) first"
    store = tmp_path_factory.mktemp("tus-node") / "store"
    store.mkdir()
    server = NodeTusServer(store)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def portal_with_tus(tmp_path_factory, node_tus_server):
    """The dist bundle on a static server, and a reference server that lets that origin call its API."""
    base = tmp_path_factory.mktemp("tus-portal")
    root = base / "portal"
    subprocess.run([sys.executable, str(ROOT / "build.py"), "dist", str(root)], check=True, cwd=base,
                   stdout=subprocess.DEVNULL)
    site = StaticSite(root)
    (base / "data").mkdir()
    config = base / "server.toml"
    config.write_text(f'[server]\ncors_allow_origins = ["{site.url}"]\n')
    api = RunningServer(base / "data", config).start()
    yield root, site, api
    api.stop()
    site.close()


@pytest.fixture()
def open_portal(browser, portal_with_tus, node_tus_server, offsite_guard, conversation):
    root, site, api = portal_with_tus
    config = json.loads((root / "attache-config.example.json").read_text())
    config["backend"].update(base_url=api.url, conversation=conversation,
                             identities={"agent": {"token": "agent-dev-token", "name": "Agent"}},
                             uploader={"kind": "tus", "endpoint": node_tus_server.endpoint})
    (root / "attache-config.json").write_text(json.dumps(config))
    context = browser.new_context()
    page = context.new_page()
    offsite_guard.watch(page)
    page.on("console", lambda m: print(f"[console.{m.type}] {m.text}") if m.type in ("error", "warning") else None)
    page.goto(f"{site.url}/")
    wait_ready(page, 60_000)
    yield page
    context.close()


def test_the_page_uploads_to_tus_node_server_and_resumes_there(open_portal, node_tus_server, tmp_path):
    page = open_portal
    data = files.PDF + os.urandom(9_000_000)
    held, patches, posts = [], [], []

    def watch(request):
        if request.method == "POST" and request.url.endswith("/messages"):
            posts.append(request.post_data_json)
        elif request.method == "PATCH":
            patches.append((request.url, int(request.headers["upload-offset"])))

    page.on("request", watch)

    def hold_the_second_chunk(route):
        if route.request.method == "PATCH" and len(patches) == 2 and not held:
            held.append(route)
        else:
            route.continue_()

    page.route(f"{node_tus_server.url}/**", hold_the_second_chunk)
    attach(page, files.write(tmp_path, "quote.pdf", data))
    page.get_by_role("textbox", name="Message").fill("uploaded to @tus/server")
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    wait_for(page, lambda: held, "the second chunk")
    url = patches[0][0]
    assert url.startswith(node_tus_server.endpoint + "/")  # "/files/<id>" resolved against the endpoint
    confirmed = node_tus_server.offset(url)
    assert confirmed is not None and 0 < confirmed < len(data)
    log.get_by_role("button", name="Cancel").click()
    expect(log.get_by_role("alert")).to_contain_text("cancelled")
    page.unroute(f"{node_tus_server.url}/**")
    release(held)

    log.get_by_role("button", name="Retry").click()  # HEAD at @tus/server, then only what it lacks
    wait_for(page, lambda: posts, "the message to be posted")
    upload_id = url.rsplit("/", 1)[-1]
    assert (node_tus_server.store / upload_id).read_bytes() == data
    assert posts[0]["attachments"] == [upload_id] and posts[0]["text"] == "uploaded to @tus/server"
    assert {u for u, _ in patches} == {url}  # one upload, resumed: not created again
    offsets = [offset for _, offset in patches]
    assert offsets[:3] == [0, confirmed, confirmed], offsets  # the cancelled chunk, then from @tus/server's offset
    assert offsets[2:] == sorted(set(offsets[2:])), offsets  # and on, never sending a byte twice
    # The reference server does not know uploads stored elsewhere: it refuses the message, in its words.
    expect(log.locator("article.failed").get_by_role("alert")).to_contain_text(f"Upload {upload_id} does not exist")


def test_removing_the_file_terminates_its_upload_on_tus_node_server(open_portal, node_tus_server, tmp_path):
    page = open_portal
    chunks = PatchHold(page, f"{node_tus_server.url}/**")
    attach(page, files.write(tmp_path, "draft.pdf", files.PDF + os.urandom(100_000)))
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    wait_for(page, lambda: chunks.held, "the first chunk")
    log.get_by_role("button", name="Cancel").click()
    expect(log.get_by_role("alert")).to_contain_text("cancelled")
    chunks.end()
    urls = chunks.urls
    assert node_tus_server.offset(urls[0]) == 0
    log.get_by_role("button", name="Remove attachment").click()
    expect(log.locator("article")).to_have_count(0)
    wait_for(page, lambda: node_tus_server.offset(urls[0]) is None, "@tus/server to terminate the upload")
    assert not (node_tus_server.store / urls[0].rsplit("/", 1)[-1]).exists()
