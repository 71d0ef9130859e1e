"""How administrators deploy Attache: their own rules, and the page embedded in
a portal on another origin, talking to the backend through CORS."""
from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import sys
import threading

import pytest
from playwright.sync_api import expect

from tests import files
from tools.services.attache import ROOT
from tools.services.process import free_port
from tests.e2e.api import Api
from tests.e2e.conftest import wait_ready
from tests.e2e.test_canvas import attach

STRICT = """
[attachments]
max_file_size = "1 kB"
accepted_types = ["image/*"]
max_files_per_message = 1
"""


def test_the_server_judges_again_when_the_page_rules_are_stale(open_app, make_server, tmp_path):
    server = make_server(config_text=None)
    page = open_app("agent", server=server)
    # The administrator tightens the rules while the agent's page is open.
    server.config = tmp_path / "strict.toml"
    server.config.write_text(STRICT)
    server.restart()
    attach(page, files.write(tmp_path, "report.pdf", files.PDF))
    page.get_by_role("button", name="Send").click()
    warning = page.get_by_role("log", name="Conversation").get_by_role("alert")
    expect(warning).to_contain_text("report.pdf: this type is not accepted (accepted: images)")
    assert Api(server.url).history(page.evaluate("new URLSearchParams(location.search).get('conversation')")) == []


def test_several_files_per_message_when_the_administrator_allows_it(open_app, make_server, tmp_path):
    server = make_server(config_text=STRICT.replace('"1 kB"', '"5 MB"').replace("max_files_per_message = 1", "max_files_per_message = 3"))
    page = open_app("agent", server=server)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    assert chooser.value.is_multiple()
    chooser.value.set_files([str(files.write(tmp_path, f"shot-{n}.png", files.png_bytes(20 + n, 20))) for n in range(2)])
    expect(page.locator("#staged").get_by_role("group")).to_have_count(2)
    page.get_by_role("button", name="Send").click()
    delivered = page.get_by_role("log", name="Conversation").locator("article:not(.pending)")
    expect(delivered.get_by_role("img")).to_have_count(2)
    expect(delivered).to_have_count(1)


class StaticSite:
    """A portal's plain static web server (no Attache code on it but the page)."""

    def __init__(self, root, csp: str = "") -> None:
        self.root, self.csp = root, csp
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def end_headers(self) -> None:
                if site.csp:
                    self.send_header("Content-Security-Policy", site.csp)
                super().end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()),
                                                     functools.partial(Handler, directory=str(root)))
        self.port = self.httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def portal(tmp_path):
    """`python3 build.py dist OUT`, served by Python's plain http.server."""
    root = tmp_path / "portal"
    subprocess.run([sys.executable, str(ROOT / "build.py"), "dist", str(root)], check=True, cwd=tmp_path,
                   stdout=subprocess.DEVNULL)
    site = StaticSite(root)
    yield root, site
    site.close()


def test_the_page_works_as_a_static_site_on_another_origin(browser, make_server, portal, offsite_guard, tmp_path):
    root, site = portal
    assert sorted(p.name for p in root.iterdir()) == ["assets", "attache-config.example.json", "attache.js",
                                                       "index.html", "pyscript.toml"]
    server = make_server(config_text=f'[server]\ncors_allow_origins = ["{site.url}"]\n')
    config = json.loads((root / "attache-config.example.json").read_text())   # the template, filled in
    config["backend"].update(base_url=server.url, conversation="portal",
                             identities={"agent": {"token": "agent-dev-token", "name": "Agent"}})
    (root / "attache-config.json").write_text(json.dumps(config))
    context = browser.new_context()
    page = context.new_page()
    offsite_guard.watch(page)
    messages = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.goto(f"{site.url}/")
    wait_ready(page)
    assert page.evaluate("document.documentElement.dataset.pythonStart") == "snapshot", messages
    attach(page, files.write(tmp_path, "scan.pdf", files.PDF))
    page.get_by_role("textbox", name="Message").fill("sent from the portal")
    page.get_by_role("button", name="Send").click()
    delivered = page.get_by_role("log", name="Conversation").locator("article:not(.pending)")
    expect(delivered.get_by_role("link", name=re.compile("scan.pdf"))).to_have_attribute("href", re.compile(f"^{server.url}/media/"))
    Api(server.url).send("portal", text="the customer answers")
    expect(page.get_by_role("log", name="Conversation")).to_contain_text("the customer answers")
    context.close()


@pytest.mark.development_only  # ?as= picks one of the development identities
def test_an_identity_the_config_does_not_offer_is_refused_clearly(browser, reference_server, offsite_guard):
    context = browser.new_context()
    page = context.new_page()
    offsite_guard.watch(page)
    page.goto(f"{reference_server.url}/?as=boss")
    expect(page.get_by_role("alert")).to_contain_text("unknown identity 'boss'; known identities: agent, customer", timeout=60_000)
    expect(page.get_by_role("textbox", name="Message")).to_be_disabled()
    context.close()


def test_remove_attachment_removes_the_file_it_names(open_app, make_server, tmp_path):
    server = make_server(config_text=STRICT.replace('"1 kB"', '"5 MB"').replace("max_files_per_message = 1", "max_files_per_message = 3"))
    page = open_app("agent", server=server)
    page.route("**/api/uploads", lambda route: route.fulfill(status=503, body="busy"))
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach file").click()
    chooser.value.set_files([str(files.write(tmp_path, f"shot-{n}.png", files.png_bytes(20 + n, 20))) for n in range(3)])
    expect(page.locator("#staged").get_by_role("group")).to_have_count(3)
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    failed = log.locator("article.failed")
    expect(failed.get_by_role("alert")).to_be_visible(timeout=20_000)
    failed.get_by_role("button", name="Remove shot-1.png").click()
    expect(failed.get_by_role("img", name="shot-1.png")).to_have_count(0)
    expect(failed.get_by_role("img", name="shot-0.png")).to_be_visible()
    expect(failed.get_by_role("img", name="shot-2.png")).to_be_visible()
    page.unroute("**/api/uploads")
    failed.get_by_role("button", name="Retry").click()
    expect(log.locator("article:not(.pending)").get_by_role("img")).to_have_count(2)
    conversation = page.evaluate("new URLSearchParams(location.search).get('conversation')")
    [sent] = Api(server.url).history(conversation)
    assert [a["name"] for a in sent["attachments"]] == ["shot-0.png", "shot-2.png"]
