"""What the page reads from an access token, and when it asks for the next one.

The page never verifies a token (it has no key, and needs none: the server
does). It reads the unverified payload of the JWT its portal minted for two
things only: who it is (``sub`` decides which side a message is on, ``name``
is shown) and when the token runs out (``exp``), so it can fetch the next one
before then. The token itself goes only into ``Authorization`` headers.

Pure: no clock of its own (callers pass ``now``), no browser imports.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

__all__ = ["TokenClaims", "dev_claims", "expired_answer", "read_claims", "refresh_delay"]

# Ask for the next token when this share of its lifetime has passed, but no
# earlier than this many seconds before it expires: a 1 h token is renewed
# 5 minutes before its end, a 20 s token after 15 s.
REFRESH_SHARE = 0.75
REFRESH_AHEAD_S = 300.0
MIN_DELAY_S = 1.0
_EXPIRED_HEADER = re.compile(r'error\s*=\s*"?token_expired"?', re.IGNORECASE)


@dataclass(frozen=True)
class TokenClaims:
    sub: str                  # the user's stable id: our messages are those whose sender is this
    name: str = ""            # shown to the other side
    role: str = ""            # "agent" | "customer"
    exp: float | None = None  # unix time; None: a development token that does not expire
    iat: float | None = None


def dev_claims(identity: str, name: str = "") -> TokenClaims:
    """A development identity's opaque token: the identity is the sub (as on the server)."""
    return TokenClaims(sub=identity, name=name or identity.replace("_", " ").title(),
                       role="customer" if identity == "customer" else "agent")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def read_claims(token: str) -> TokenClaims:
    """The claims of a JWT, unverified; ValueError when it is not one or has no ``sub``."""
    if not isinstance(token, str):
        raise ValueError("the token is not text")
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("the token is not a JWT (three dot-separated parts)")
    body = parts[1]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        payload = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the token's payload is not base64url JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("the token's payload is not a JSON object")
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        raise ValueError("the token has no 'sub' claim")
    name, role = (v if isinstance(v, str) else "" for v in (payload.get("name"), payload.get("role")))
    return TokenClaims(sub, name, role, exp=_number(payload.get("exp")), iat=_number(payload.get("iat")))


def refresh_delay(claims: TokenClaims, now: float) -> float | None:
    """Seconds from receiving the token (at ``now``) until asking for the next; None: never.

    What is left is ``exp - now`` on the browser's clock, unless that clock is
    clearly off (more left than the token's whole life ``exp - iat``, or
    nothing left for a token just handed over): then the issuer's ``exp - iat``
    stands in. A token that really has expired gets a 401 ``token_expired``
    and is renewed then.
    """
    if claims.exp is None:
        return None
    remaining = claims.exp - now
    if claims.iat is not None and claims.iat < claims.exp:
        lifetime = claims.exp - claims.iat
        if remaining <= 0 or remaining > lifetime:
            remaining = lifetime
    if remaining <= 0:
        return 0.0
    return max(MIN_DELAY_S, remaining * REFRESH_SHARE, remaining - REFRESH_AHEAD_S)


def expired_answer(status: int, headers: dict[str, str], text: str) -> bool:
    """Is this answer "your token expired" (401 ``token_expired``), the one worth a fresh token?

    Read from the JSON problem's code, or ``WWW-Authenticate: Bearer error="token_expired"``
    (a cross-origin page sees that header only when the server exposes it), or Matrix's
    ``M_UNKNOWN_TOKEN`` with ``soft_logout: true`` (the session expired; a new token continues it)."""
    if status != 401:
        return False
    if _EXPIRED_HEADER.search(headers.get("www-authenticate", "")):
        return True
    try:
        body = json.loads(text) if text else None
    except (ValueError, RecursionError):
        return False
    if not isinstance(body, dict):
        return False
    if body.get("errcode") == "M_UNKNOWN_TOKEN" and body.get("soft_logout") is True:
        return True
    error = body.get("error")
    return isinstance(error, dict) and error.get("code") == "token_expired"
