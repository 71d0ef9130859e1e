"""Headers on every answer: no Referer ever leaves (signed media links), HSTS in production over HTTPS,
and no redirect built from the Host header the client names."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tools.services.attache import RunningServer

from .conftest import PNG, send, upload
from .production import PROD_CONFIG, bearer, dev, dev_agent, mint, shared_server  # noqa: F401

HSTS = "max-age=31536000"
HTTPS = {"X-Forwarded-Proto": "https"}      # as the nginx of docs/deploying.md sends it; uvicorn trusts 127.0.0.1


@pytest.fixture(scope="module")
def prod(tmp_path_factory) -> Iterator[RunningServer]:
    yield from shared_server(tmp_path_factory, PROD_CONFIG)


@pytest.fixture(scope="module")
def prod_https(tmp_path_factory) -> Iterator[RunningServer]:
    config = PROD_CONFIG.replace("[server]\n", '[server]\npublic_origin = "https://chat.example.com"\n')
    yield from shared_server(tmp_path_factory, config)


def test_no_answer_lets_a_referer_leave(dev, agent):
    message = send(agent, "", [upload(agent, "pixel.png", PNG, "image/png")["upload_id"]]).json()
    answers = [httpx.get(dev.url + "/"), agent.get("/api/restrictions"), agent.get(message["attachments"][0]["url"]),
               agent.get("/api/conversations/default/messages"), agent.get("/nothing-here")]
    assert [r.headers.get("referrer-policy") for r in answers] == ["no-referrer"] * len(answers)


def test_development_never_sends_hsts(dev, agent):
    assert "strict-transport-security" not in agent.get("/api/restrictions", headers=HTTPS).headers


def test_production_sends_hsts_for_requests_that_came_over_https(prod):
    with prod.client(bearer(mint(conversations=["c1"]))) as c:
        assert c.get("/api/restrictions", headers=HTTPS).headers["strict-transport-security"] == HSTS
        assert c.get("/", headers=HTTPS).headers["strict-transport-security"] == HSTS
        assert "strict-transport-security" not in c.get("/api/restrictions").headers    # plain HTTP: meaningless


def test_production_with_an_https_public_origin_always_sends_hsts(prod_https):
    r = httpx.get(prod_https.url + "/api/restrictions")      # a proxy that sends no X-Forwarded-Proto
    assert r.headers["strict-transport-security"] == HSTS


@pytest.mark.parametrize("path", ["/assets", "/api/restrictions/", "/api/uploads/"])
def test_no_redirect_follows_the_host_header(dev, path):
    r = httpx.get(dev.url + path, headers={"Host": "evil.example"})
    assert r.status_code >= 400 and "location" not in r.headers, (r.status_code, r.headers)


def test_a_bad_public_origin_is_refused(tmp_path):
    from server.config.config_error import ConfigError
    from server.config.config_file import load_config

    path = tmp_path / "c.toml"
    path.write_text('[server]\npublic_origin = "https://chat.example.com/attache"\n')
    with pytest.raises(ConfigError, match="public_origin"):
        load_config(path)
