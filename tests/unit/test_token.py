"""app.core.token: what the page reads from its access token, and when it renews it."""
from __future__ import annotations

import base64
import json

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.token import TokenClaims, dev_claims, expired_answer, read_claims, refresh_delay

KEY = b"k" * 32


def test_reads_the_claims_of_a_portal_token_without_its_key():
    token = jwt.encode({"sub": "u-42", "name": "Ann Agent", "role": "agent", "conversations": ["*"],
                        "iat": 1000, "exp": 4600}, KEY, algorithm="HS256")
    assert read_claims(token) == TokenClaims("u-42", "Ann Agent", "agent", exp=4600.0, iat=1000.0)


def test_unicode_names_survive_base64url():
    token = jwt.encode({"sub": "ü/1", "name": "Zoë ✓", "exp": 5}, KEY, algorithm="HS256")
    assert read_claims(token).name == "Zoë ✓"


@pytest.mark.parametrize("token", [
    "agent-dev-token", "a.b", "a.b.c.d", "x.%%%.y", "x." + base64.urlsafe_b64encode(b"[1]").decode() + ".y",
    "x." + base64.urlsafe_b64encode(json.dumps({"name": "no sub"}).encode()).decode().rstrip("=") + ".y",
    "x." + base64.urlsafe_b64encode(b"\xff\xfe").decode() + ".y",
])
def test_what_is_not_a_jwt_with_a_sub_is_refused(token):
    with pytest.raises(ValueError):
        read_claims(token)


def test_odd_claim_types_are_ignored_not_trusted():
    token = jwt.encode({"sub": "u", "name": 7, "role": None, "exp": "soon", "iat": True}, KEY, algorithm="HS256")
    assert read_claims(token) == TokenClaims("u", "", "", exp=None, iat=None)


def test_a_development_identity_is_its_own_sub():
    assert dev_claims("customer") == TokenClaims("customer", "Customer", "customer")
    assert dev_claims("second_agent").name == "Second Agent"
    assert dev_claims("agent", "Ann").role == "agent"


def test_a_token_without_exp_is_never_renewed():
    assert refresh_delay(TokenClaims("u"), now=100) is None


def test_an_hour_token_is_renewed_five_minutes_before_it_ends():
    assert refresh_delay(TokenClaims("u", exp=4600, iat=1000), now=1000) == 3300


def test_a_short_token_is_renewed_after_three_quarters_of_its_life():
    assert refresh_delay(TokenClaims("u", exp=1020, iat=1000), now=1000) == 15


def test_a_browser_clock_behind_the_portal_still_renews_in_time():
    # the browser thinks it is 10 minutes earlier: it would wait too long by its own clock
    assert refresh_delay(TokenClaims("u", exp=1020, iat=1000), now=400) == 15


def test_a_browser_clock_ahead_of_the_portal_does_not_renew_in_a_loop():
    assert refresh_delay(TokenClaims("u", exp=1020, iat=1000), now=5000) == 15


def test_a_token_handed_over_late_in_its_life_is_renewed_early():
    assert refresh_delay(TokenClaims("u", exp=4600, iat=1000), now=4000) == 450


def test_a_token_without_iat_that_expired_is_renewed_at_once():
    assert refresh_delay(TokenClaims("u", exp=1000), now=1001) == 0


@given(st.integers(0, 10**9), st.integers(2, 7 * 86400), st.integers(-10**6, 10**6))
def test_renewal_always_comes_before_the_end_and_never_in_a_tight_loop(iat, life, skew):
    delay = refresh_delay(TokenClaims("u", exp=iat + life, iat=iat), now=iat + skew)
    assert 1 <= delay < life


@pytest.mark.parametrize("status, headers, text, expected", [
    (401, {}, '{"error": {"code": "token_expired", "message": "m", "hint": "h"}}', True),
    (401, {"www-authenticate": 'Bearer error="token_expired"'}, "", True),
    (401, {}, '{"error": {"code": "invalid_token"}}', False),
    (401, {"www-authenticate": 'Bearer error="invalid_token"'}, "nope", False),
    (401, {}, "[[[", False),
    (403, {}, '{"error": {"code": "token_expired"}}', False),
    (200, {}, '{"error": {"code": "token_expired"}}', False),
    (401, {}, '{"errcode": "M_UNKNOWN_TOKEN", "error": "expired", "soft_logout": true}', True),  # Matrix
    (401, {}, '{"errcode": "M_UNKNOWN_TOKEN", "error": "revoked"}', False),  # signed out: "Sign in again"
    (401, {}, '{"errcode": "M_UNKNOWN_TOKEN", "soft_logout": "true"}', False),
])
def test_only_an_expired_token_answer_asks_for_a_fresh_token(status, headers, text, expected):
    assert expired_answer(status, headers, text) is expected
