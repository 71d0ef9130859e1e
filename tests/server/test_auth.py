"""Production mode: signed identities, no secrets handed out or printed, clear refusals."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import httpx
import pytest

from .conftest import REPO, send
from .production import PROD_CONFIG, SECRET, agent_all, agent_c1, bearer, mint, prod, shared_server  # noqa: F401

HISTORY = "/api/conversations/c1/messages"


def _none_token() -> str:
    """An unsigned token (`alg: none`), which PyJWT will not even produce for HS keys."""
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'x', 'name': 'X', 'role': 'agent', 'conversations': ['*'], 'exp': 4102444800})}."


@pytest.mark.parametrize("token,code,words", [
    (lambda: mint(secret=b"another-key-of-at-least-32-bytes!!"), "invalid_token", "signature"),
    (lambda: mint(algorithm="HS512"), "invalid_token", "only HS256"),
    (_none_token, "invalid_token", "only HS256"),
    (lambda: mint(ttl=-60), "token_expired", "expired"),
    (lambda: mint(drop=("exp",)), "invalid_token", "'exp'"),
    (lambda: mint(drop=("sub",)), "invalid_token", "'sub'"),
    (lambda: mint(drop=("name",)), "invalid_token", "'name'"),
    (lambda: mint(drop=("role",)), "invalid_token", "'role'"),
    (lambda: mint(drop=("conversations",)), "invalid_token", "'conversations'"),
    (lambda: mint(role="customer", conversations=["*"]), "invalid_token", "customer"),
    (lambda: mint(role="admin"), "invalid_token", "role"),
    (lambda: mint(conversations="c1"), "invalid_token", "conversations"),
    (lambda: mint(conversations=["../etc"]), "invalid_token", "conversations"),
    (lambda: mint(name="Ann\r\nX-Evil: 1"), "invalid_token", "name"),
    (lambda: mint(sub="u-\ud800"), "invalid_token", "'sub'"),           # a lone surrogate: 401, not 500
    (lambda: mint(name="Ann \udfff"), "invalid_token", "'name'"),
    (lambda: mint(nbf=4102444800), "invalid_token", "not valid yet"),
    (lambda: "not-a-jwt", "invalid_token", "not a signed token"),
    (lambda: "agent-dev-token", "invalid_token", "not a signed token"),
])
def test_bad_tokens_are_401_with_a_clear_problem(prod, token, code, words):
    with prod.client(bearer(token())) as c:
        r = c.get(HISTORY)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == f'Bearer error="{code}"'
    err = r.json()["error"]
    assert err["code"] == code and words in err["message"] and err["hint"]


def test_a_valid_token_reads_and_sends_as_its_subject(prod):
    with prod.client(bearer(mint("u-ann", "customer", ["t-valid"], name="Ann Customer"))) as ann, \
            prod.client(bearer(mint("u-bob", "agent", ["t-valid"], name="Bob Agent"))) as bob:
        m = send(ann, "hello", key="k1", cid="t-valid").json()
        assert (m["sender"], m["sender_name"], m["sender_role"]) == ("u-ann", "Ann Customer", "customer")
        reply = send(bob, "hi Ann", cid="t-valid").json()
        assert (reply["sender"], reply["sender_name"], reply["sender_role"]) == ("u-bob", "Bob Agent", "agent")
        assert [x["sender"] for x in ann.get("/api/conversations/t-valid/messages").json()["messages"]] == [
            "u-ann", "u-bob"]
        # the idempotency key belongs to its sender, now identified by sub
        assert send(bob, "hello", key="k1", cid="t-valid").status_code == 409


def test_two_agents_in_one_conversation_are_two_senders(agent_c1, agent_all):
    send(agent_c1, "first", cid="c2")
    send(agent_all, "second", cid="c2")
    msgs = agent_c1.get("/api/conversations/c2/messages").json()["messages"]
    assert [(m["sender"], m["sender_name"], m["sender_role"]) for m in msgs] == [
        ("u-bob", "Bob Agent", "agent"), ("u-cleo", "Cleo Lead", "agent")]


def test_page_config_carries_no_token_in_production(prod):
    r = httpx.get(prod.url + "/attache-config.json")
    assert r.json() == {"mode": "production", "backend": {"adapter": "reference", "base_url": "",
                                                          "conversation": "default",
                                                          "token_url": "/portal/attache-token"}}


def test_production_prints_no_secret_and_says_so(prod):
    with prod.client(bearer(mint())) as c:
        assert c.get(HISTORY).status_code == 200
    out = prod.output()
    assert "production mode" in out and "DEVELOPMENT" not in out
    assert SECRET.decode().strip() not in out and "dev-token" not in out


def test_static_identities_are_refused_in_production(tmp_path):
    (tmp_path / "jwt.key").write_bytes(SECRET)
    config = tmp_path / "prod.toml"
    config.write_text(PROD_CONFIG + '\n[identities]\nagent = "agent-dev-token"\n')
    p = _run_main("--config", str(config), "--data", str(tmp_path / "d"))
    assert p.returncode == 2
    assert "[identities] static tokens are refused with [auth]" in p.stderr and "agent-dev-token" not in p.stderr


@pytest.mark.parametrize("key,expected", [
    (b"x" * 31, "holds 31 bytes; the key needs at least 32"),
    (None, "cannot read"),
])
def test_short_or_missing_signing_key_is_refused(tmp_path, key, expected):
    if key is not None:
        (tmp_path / "jwt.key").write_bytes(key)
    config = tmp_path / "prod.toml"
    config.write_text(PROD_CONFIG)
    p = _run_main("--config", str(config), "--data", str(tmp_path / "d"))
    assert p.returncode == 2 and expected in p.stderr


def test_build_py_token_mints_what_the_server_accepts(prod):
    out = _build_token("--config", str(prod.config), "--sub", "u-dan", "--role", "customer",
                       "--conversation", "c1", "--conversation", "c9", "--name", "Dan", "--ttl", "15m")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert "\n" not in token and token.count(".") == 2
    with prod.client(bearer(token)) as c:
        m = send(c, "minted", cid="c9").json()
    assert (m["sender"], m["sender_name"], m["sender_role"]) == ("u-dan", "Dan", "customer")


@pytest.mark.parametrize("args,expected", [
    (("--role", "customer", "--conversation", "*"), "only agents"),
    (("--role", "agent", "--conversation", "../x"), "not a conversation id"),
    (("--role", "agent", "--conversation", "c1", "--ttl", "soon"), "invalid duration"),
])
def test_build_py_token_refuses_what_the_server_would(prod, args, expected):
    out = _build_token("--config", str(prod.config), "--sub", "u", *args)
    assert out.returncode == 2 and expected in out.stderr and out.stdout == ""


def test_build_py_token_needs_a_production_config(tmp_path):
    config = tmp_path / "dev.toml"
    config.write_text("[attachments]\nmax_files_per_message = 1\n")
    out = _build_token("--config", str(config), "--sub", "u", "--role", "agent", "--conversation", "c1")
    assert out.returncode == 2 and "no [auth] table" in out.stderr


def _run_main(*args):
    return subprocess.run([sys.executable, "-m", "server", "--port", "0", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=20)


def _build_token(*args):
    return subprocess.run([sys.executable, str(REPO / "build.py"), "token", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_a_token_naming_an_audience_is_refused_without_one_configured(prod):
    """PyJWT refuses any `aud` unless told which: now said plainly (the README used to say it was ignored)."""
    with prod.client(bearer(mint(conversations=["c1"], aud="other-service"))) as c:
        r = c.get(HISTORY)
    assert r.status_code == 401 and "audience" in r.json()["error"]["message"]
    assert "[auth] audience" in r.json()["error"]["hint"]


AUDIENCE_CONFIG = PROD_CONFIG + 'audience = "attache"\nissuer = "https://portal.example.com"\n'


@pytest.fixture(scope="module")
def prod_aud(tmp_path_factory):
    yield from shared_server(tmp_path_factory, AUDIENCE_CONFIG)


@pytest.mark.parametrize("claims,status,words", [
    ({"aud": "attache", "iss": "https://portal.example.com"}, 200, ""),
    ({"aud": ["crm", "attache"], "iss": "https://portal.example.com"}, 200, ""),
    ({"iss": "https://portal.example.com"}, 401, "lacks the 'aud' claim"),
    ({"aud": "crm", "iss": "https://portal.example.com"}, 401, "'aud' claim does not name"),
    ({"aud": "attache"}, 401, "lacks the 'iss' claim"),
    ({"aud": "attache", "iss": "https://evil.example"}, 401, "'iss' claim is not"),
])
def test_configured_audience_and_issuer_are_required_and_checked(prod_aud, claims, status, words):
    with prod_aud.client(bearer(mint(conversations=["c1"], **claims))) as c:
        r = c.get(HISTORY)
    assert r.status_code == status, r.text
    if words:
        assert words in r.json()["error"]["message"] and r.json()["error"]["hint"]


def test_build_py_token_mints_the_configured_audience_and_issuer(tmp_path):
    from server.auth.tokens import mint as portal_mint

    token = portal_mint(SECRET, "u-1", "agent", ["*"], audience="attache", issuer="https://portal.example.com")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert (claims["aud"], claims["iss"]) == ("attache", "https://portal.example.com")
    assert "aud" not in json.loads(base64.urlsafe_b64decode(portal_mint(SECRET, "u-1", "agent", ["*"])
                                                            .split(".")[1] + "=="))
