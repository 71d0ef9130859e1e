"""`[backend] kind = "matrix"` with its settings in [backend] or a `[matrix]` table: the config is checked up front, and the server hands the page
the homeserver, the room, the identities' tokens and the administrator's rules, with a CSP
that lets the page reach that homeserver (and nothing else new)."""

from __future__ import annotations

import re

import httpx
import pytest

from app.backends import create_backend
from server.config.config_error import ConfigError
from server.config.config_file import load_config
from server.page.static_site import PAGE_CSP

MATRIX = """
[backend]
kind = "matrix"

[matrix]
homeserver = "http://127.0.0.1:8448/"
room = "#support:localhost"

[matrix.identities]
agent = "syt_agent_token"
customer = { token = "syt_customer_token", user_id = "@customer:localhost", name = "Cleo" }

[attachments]
max_file_size = "25 MB"
accepted_types = ["image/*", ".pdf"]
"""


def write(tmp_path, text: str):
    path = tmp_path / "attache.toml"
    path.write_text(text)
    return path


def test_matrix_backend_is_read_with_its_identities(tmp_path):
    config = load_config(write(tmp_path, MATRIX))
    assert config.matrix is not None
    assert (config.matrix.homeserver, config.matrix.room, config.matrix.origin) == (
        "http://127.0.0.1:8448", "#support:localhost", "http://127.0.0.1:8448")
    assert config.matrix.identities == {
        "agent": {"token": "syt_agent_token", "name": "Agent"},
        "customer": {"token": "syt_customer_token", "name": "Cleo", "user_id": "@customer:localhost"}}
    assert "syt_" not in repr(config.matrix)


# The issue's own form: the same settings in the [backend] table itself.
ISSUE_FORM = MATRIX.replace("[matrix]\n", "").replace("[matrix.identities]", "[backend.identities]")


def test_the_settings_may_sit_in_the_backend_table_itself(tmp_path):
    """`homeserver`, `room` and `[backend.identities]` in [backend] read exactly as a [matrix] table does."""
    assert "[matrix" not in ISSUE_FORM and 'kind = "matrix"\n\nhomeserver' in ISSUE_FORM
    assert load_config(write(tmp_path, ISSUE_FORM)).matrix == load_config(write(tmp_path, MATRIX)).matrix
    with pytest.raises(ConfigError, match=re.escape("[backend] room must be a room id")):
        load_config(write(tmp_path, ISSUE_FORM.replace('room = "#support:localhost"', 'room = "support"')))
    with pytest.raises(ConfigError, match=re.escape("[backend] unknown key 'homeserver' (known: kind)")):
        load_config(write(tmp_path, ISSUE_FORM.replace('kind = "matrix"', 'kind = "reference"')))
    with pytest.raises(ConfigError, match=re.escape("in [backend] and in [matrix]: keep one of them")):
        load_config(write(tmp_path, ISSUE_FORM + '[matrix]\nroom = "#other:localhost"\n'))


def test_without_a_backend_table_or_with_kind_reference_nothing_changes(tmp_path):
    assert load_config(None).matrix is None
    assert load_config(write(tmp_path, '[backend]\nkind = "reference"\n')).matrix is None
    assert (load_config(write(tmp_path, MATRIX)).backend, load_config(None).backend) == ("matrix", "reference")


@pytest.mark.parametrize("change,error", [
    (('kind = "matrix"', 'kind = "irc"'), "kind must be one of 'reference', 'twilio', 'matrix'"),
    (('kind = "matrix"', 'kind = "reference"'), "a [matrix] table is only used with [backend] kind = \"matrix\""),
    (('homeserver = "http://127.0.0.1:8448/"', 'homeserver = "matrix.example"'), "homeserver must be"),
    (('room = "#support:localhost"', 'room = "support"'), "room must be a room id"),
    (('room = "#support:localhost"', 'room = "#support"'), "room must be a room id"),
    (('agent = "syt_agent_token"', 'agent = "syt agent"'), "agent: the token must be"),
    (('agent = "syt_agent_token"', 'agent = { token = "syt_a", password = "x" }'), "agent must be a token"),
    (('user_id = "@customer:localhost"', 'user_id = "customer"'), "user_id must look like"),
    (('[matrix]', '[matrix]\nrooms = []'), "[matrix] unknown key 'rooms'"),
    (('kind = "matrix"', 'kind = "matrix"\nrooms = []'), "[backend] unknown key 'rooms'"),
])
def test_mistakes_are_named(tmp_path, change, error):
    with pytest.raises(ConfigError, match=re.escape(error)):
        load_config(write(tmp_path, MATRIX.replace(*change)))


def test_no_identities_in_development_is_refused(tmp_path):
    text = MATRIX.split("[matrix.identities]")[0]
    with pytest.raises(ConfigError, match=r"\[matrix.identities\] is empty"):
        load_config(write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"needs a \[matrix\] table"):
        load_config(write(tmp_path, '[backend]\nkind = "matrix"\n'))


def test_production_takes_no_static_tokens_and_hands_the_page_the_token_url(tmp_path):
    (tmp_path / "attache.secret").write_text("k" * 40)
    auth = '[auth]\nsecret_file = "attache.secret"\ntoken_url = "https://portal.example/matrix-token"\n'
    with pytest.raises(ConfigError, match="static tokens are refused with .auth."):
        load_config(write(tmp_path, MATRIX + auth))
    config = load_config(write(tmp_path, MATRIX.split("[matrix.identities]")[0] + auth))
    backend = config.matrix.page_backend(config.restrictions, config.auth.token_url)
    assert backend["token_url"] == "https://portal.example/matrix-token" and "identities" not in backend
    from server.page.static_site import page_csp
    assert "connect-src 'self' https://portal.example http://127.0.0.1:8448;" in page_csp(config)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from tools.services.attache import RunningServer
    top = tmp_path_factory.mktemp("matrix-config")
    site = top / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>Attache</title>")
    server = RunningServer(top / "data", write(top, MATRIX), static_root=site).start()
    with httpx.Client(base_url=server.url) as http:
        yield http
    server.stop()


def test_page_config_names_the_homeserver_room_tokens_and_rules(client):
    answer = client.get("/attache-config.json")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    config = answer.json()
    backend = config["backend"]
    assert config["mode"] == "development"
    assert backend["adapter"] == "matrix"
    assert (backend["homeserver"], backend["room"]) == ("http://127.0.0.1:8448", "#support:localhost")
    assert backend["identities"]["customer"] == {"token": "syt_customer_token", "name": "Cleo",
                                                 "user_id": "@customer:localhost"}
    assert backend["attachments"]["max_file_size"] == 25_000_000
    assert backend["attachments"]["accepted_types"] == ["image/*", ".pdf"]
    built = create_backend(config, "customer")  # what the page does with it
    assert (built.api.name, built.api.user_id, built.uploader.kind) == ("matrix", "@customer:localhost", "single")
    assert built.api.admin_rules.accepted_types == ("image/*", ".pdf")


def test_the_page_may_connect_to_the_homeserver_and_nowhere_else_new(client):
    csp = client.get("/").headers["content-security-policy"]
    expected = PAGE_CSP.replace("connect-src 'self'", "connect-src 'self' http://127.0.0.1:8448")
    assert csp == expected + "; frame-ancestors 'self'"
    assert "img-src 'self' data: blob:" in csp  # thumbnails arrive as blob: URLs, never from the homeserver


def test_the_banner_never_prints_matrix_tokens(tmp_path):
    from server.__main__ import banner
    text = banner(load_config(write(tmp_path, MATRIX)), "http://127.0.0.1:8000", tmp_path)
    assert "syt_" not in text
    assert "http://127.0.0.1:8000/?as=customer" in text and "#support:localhost" in text
