"""The access log never holds a token, ticket or media signature, however the parameter's name is
spelled: the server decodes `%73ig=` to `sig=`, so the redaction must decode it too."""

from __future__ import annotations

import pytest

from server.http.log_redaction import redact

from .conftest import AGENT, PNG, send, upload


@pytest.mark.parametrize("path", [
    "/media/abc/x.png?c=default&e=1&sig=SECRET",
    "/media/abc/x.png?c=default&e=1&%73ig=SECRET",
    "/media/abc/x.png?c=default&e=1&si%67=SECRET",
    "/media/abc/x.png?c=default&e=1&%2573ig=SECRET",          # encoded twice
    "/media/abc/x.png?c=default&e=1&SIG=SECRET",
    "/api/conversations/c/events?%74icket=SECRET&after=0",
    "/api/conversations/c/events?after=0&%61ccess_token=SECRET",
    "/api/conversations/c/events?after=0;%61ccess%5Ftoken=SECRET",
    "/api/conversations/c/events?+token=SECRET",
    "/api/conversations/c/events?%54%4F%4B%45%4E=SECRET&x=1",
])
def test_secret_values_are_redacted_whatever_the_spelling_of_their_name(path):
    logged = redact(path)
    assert "SECRET" not in logged and "=[redacted]" in logged
    assert logged.split("?")[0] == path.split("?")[0]


def test_other_parameters_and_paths_stay_as_they_were():
    for path in ("/api/conversations/c/messages?after=3&limit=10", "/media/abc/sig=x.png?c=sig&e=1", "/"):
        assert redact(path) == path
    assert redact("/m?c=1&sig=S&e=2") == "/m?c=1&sig=[redacted]&e=2"


def test_the_server_honours_encoded_names_and_logs_none_of_their_values(make_server):
    server = make_server(extra=("--log-level", "info"))
    with server.client(AGENT) as c:
        url = send(c, "", [upload(c, "pixel.png", PNG, "image/png")["upload_id"]]).json()["attachments"][0]["url"]
        sig = url.rsplit("sig=", 1)[1]
        assert c.get(url.replace("&sig=", "&%73ig=")).status_code == 200          # honoured, as `sig`
        ticket = c.post("/api/conversations/default/events/ticket").json()["ticket"]
        with c.stream("GET", "/api/conversations/default/events?%74icket=" + ticket,
                      headers={"Authorization": ""}) as r:
            assert r.status_code == 200                                            # honoured, as `ticket`
    log = server.output().split("  config:", 1)[1]          # after the banner (development tokens are printed)
    assert "%73ig=[redacted]" in log and "%74icket=[redacted]" in log
    assert sig not in log and ticket not in log
