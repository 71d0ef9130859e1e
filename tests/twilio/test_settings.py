"""`[backend]` and `[twilio]`: validated up front, secrets from files and never shown."""
from __future__ import annotations

import logging
import tomllib

import pytest

from server.config.backend_kind import backend_kind, backend_settings
from server.config.config_error import ConfigError
from server.config.twilio_config import DEFAULT_API_BASE, DEFAULT_MEDIA_BASE, TwilioSettings
from tests.twilio.rig import AUTH_TOKEN, KEY_SECRET, KEY_SID, PUBLIC_URL, twilio_table

ISSUE_EXAMPLE = """
[backend]
kind = "twilio"

[twilio]
account_sid = "AC{0}"
api_key_sid = "SK{0}"
api_key_secret_file = "twilio-api-key.secret"
auth_token_file = "twilio-auth-token.secret"
chat_service_sid = "IS{0}"
public_url = "https://attache.example.com"
api_base_url = "https://conversations.twilio.com"
media_base_url = "https://mcs.us1.twilio.com"
""".format("0123456789abcdef" * 2)


def test_the_issue_example_loads(secret_files):
    config = secret_files / "attache.toml"
    config.write_text(ISSUE_EXAMPLE)
    data = tomllib.loads(config.read_text())
    s = backend_settings(backend_kind(data), data, str(config), config.parent)["twilio"]
    assert s.api_key_secret.reveal() == KEY_SECRET and s.auth_token.reveal() == AUTH_TOKEN
    assert (s.api_base_url, s.media_base_url) == (DEFAULT_API_BASE, DEFAULT_MEDIA_BASE)
    assert s.webhook_url == "https://attache.example.com/twilio/webhook"


def test_secrets_never_show(secret_files, caplog):
    s = TwilioSettings.from_mapping(twilio_table(), secret_files)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s %r %s", s, s, s.api_key_secret)
    for text in (repr(s), str(s), caplog.text):
        assert KEY_SECRET not in text and AUTH_TOKEN not in text
    assert KEY_SID in repr(s) and "<hidden>" in repr(s)


def test_defaults_and_trailing_slashes(secret_files):
    table = {**twilio_table(), "public_url": PUBLIC_URL + "/", "media_base_url": "http://127.0.0.1:9/"}
    s = TwilioSettings.from_mapping(table, secret_files)
    assert (s.public_url, s.api_base_url, s.media_base_url) == (PUBLIC_URL, DEFAULT_API_BASE, "http://127.0.0.1:9")


@pytest.mark.parametrize("change,message", [
    ({"account_sid": None}, "[twilio] account_sid is missing"),
    ({"chat_service_sid": "CH" + "0" * 32}, "chat_service_sid must be a IS... SID"),
    ({"api_key_sid": "SK123"}, "api_key_sid must be a SK... SID"),
    ({"api_key_secret_file": "nope.secret"}, "nope.secret does not exist (paths are relative to the config file)"),
    ({"auth_token_file": "."}, "is a directory"),
    ({"public_url": "http://attache.example.com"}, "Twilio must call back over https"),
    ({"public_url": "attache.example.com"}, "is not a URL"),
    ({"api_base_url": "https://x.example/?a=1"}, "is not a URL"),
    ({"api_base_url": 5}, "api_base_url must be a URL string"),
    ({"region": "us1"}, "unknown key 'region'"),
])
def test_clear_errors(secret_files, change, message):
    table = {k: v for k, v in {**twilio_table(), **change}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        TwilioSettings.from_mapping(table, secret_files)
    assert message in str(caught.value)


@pytest.mark.parametrize("content,message", [("", "is empty"), ("two words", "must hold the secret alone"),
                                             (b"\xff\xfe", "is not UTF-8 text")])
def test_bad_secret_files_are_named_not_shown(secret_files, content, message):
    path = secret_files / "twilio-auth-token.secret"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError) as caught:
        TwilioSettings.from_mapping(twilio_table(), secret_files)
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert "words" not in str(caught.value)


def test_http_public_url_is_allowed_for_local_development(secret_files):
    s = TwilioSettings.from_mapping({**twilio_table(), "public_url": "http://127.0.0.1:8000"}, secret_files)
    assert s.webhook_url == "http://127.0.0.1:8000/twilio/webhook"


@pytest.mark.parametrize("data,expected", [({}, "reference"), ({"backend": {"kind": "reference"}}, "reference"),
                                           ({"backend": {"kind": "twilio"}, "twilio": {}}, "twilio")])
def test_backend_kind(data, expected):
    assert backend_kind(data) == expected


@pytest.mark.parametrize("data,message", [
    ({"backend": {"kind": "irc"}}, "kind must be one of 'reference', 'twilio', 'matrix'"),
    ({"backend": {"kind": "twilio"}}, "needs a [twilio] table"),
    ({"twilio": {"account_sid": "AC"}}, "only used with [backend] kind = \"twilio\""),
    ({"backend": {"kind": "twilio", "url": "x"}, "twilio": {}}, "[backend] unknown key 'url'"),
    ({"backend": "twilio"}, "[backend] must be a table"),
])
def test_backend_errors(data, message):
    with pytest.raises(ConfigError) as caught:
        backend_kind(data)
    assert message in str(caught.value)


def test_reference_backend_has_no_twilio_settings(tmp_path):
    assert backend_settings(backend_kind({}), {}, str(tmp_path / "attache.toml"), tmp_path) == {}


