"""Who is asking: a Principal from the request's bearer token.

Why signed tokens (JWT, HS256) in production: the portal that signs people in
already knows who they are and which conversations they may see; it mints a
short-lived token with that, signed with a key it shares with this server, so
the server needs no user database and no call back to the portal. Only HS256
is accepted (never `none`, never an algorithm the token picks for itself).
With `[auth] audience` a token must name it in `aud` (without it, a token
that names any audience is meant for another service and is refused); with
`[auth] issuer` it must carry that `iss`.

In development (no `[auth]` table) the static `[identities]` tokens stand in:
each identity becomes a principal that may use every conversation.
"""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import dataclass

import jwt
from starlette.requests import Request

from server.config.config_file import Config
from server.http.api_error import ApiError
from server.http.inputs import CONVERSATION_ID

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "name", "role", "conversations", "exp")
ROLES = ("agent", "customer")
LEEWAY = 5                   # seconds of clock difference tolerated between the portal and us
MAX_TOKEN = 8192
MAX_CONVERSATIONS = 1000
_SIGN_IN_AGAIN = "Sign in again: your portal issues a fresh token."


@dataclass(frozen=True)
class Principal:
    sub: str                          # stable user id: message sender, upload owner
    name: str                         # shown to the other side
    role: str                         # "agent" | "customer"
    conversations: tuple[str, ...]    # ids this user may use; ("*",) = all (agents only)
    expires: float | None = None      # the token's exp (unix time); None for development identities

    def may_use(self, cid: str) -> bool:
        return "*" in self.conversations or cid in self.conversations


def upload_owner(principal: Principal) -> str:
    """Who owns an upload and whose quotas it counts against: role and sub together ("agent:u-1"),
    since a portal may give an agent and a customer the same `sub`. Roles hold no ':', so the
    first one separates them; server-side owners (Twilio's "twilio:...") are another namespace."""
    return f"{principal.role}:{principal.sub}"


def unauthorized(message: str, hint: str, code: str = "invalid_token") -> ApiError:
    return ApiError(401, code, message, hint,
                    headers={"WWW-Authenticate": f'Bearer error="{code}"' if code != "unauthorized" else "Bearer"})


def not_a_member(cid: str) -> ApiError:
    """404, the same answer as for a conversation that does not exist: membership reveals nothing."""
    return ApiError(404, "conversation_not_found", f"Conversation {cid!r} does not exist.",
                    "Check the conversation id, or ask for access to it.")


def require_member(principal: Principal, cid: str) -> None:
    if not principal.may_use(cid):
        raise not_a_member(cid)


def dev_principal(name: str) -> Principal:
    """A development identity: "customer" is the customer, every other identity an agent."""
    role = "customer" if name == "customer" else "agent"
    return Principal(name, name.replace("_", " ").title(), role, ("*",))


def _dev_lookup(config: Config, token: str) -> Principal | None:
    """Constant-time over all tokens so timing does not leak a prefix."""
    found = None
    for name, expected in config.identities.items():
        if hmac.compare_digest(expected.encode(), token.encode()):
            found = name
    return None if found is None else dev_principal(found)


def _text_claim(payload: dict, claim: str, limit: int) -> str:
    value = payload[claim]
    if (not isinstance(value, str) or not value.strip() or len(value) > limit
            or any(unicodedata.category(c)[0] == "C" for c in value)):
        raise unauthorized(f"The access token's '{claim}' claim must be text of 1 to {limit} characters.",
                           "Fix the token your portal mints (see docs/deploying.md).")
    return value


def _conversations(payload: dict, role: str) -> tuple[str, ...]:
    value = payload["conversations"]
    if (not isinstance(value, list) or not 0 < len(value) <= MAX_CONVERSATIONS
            or not all(isinstance(c, str) and (c == "*" or CONVERSATION_ID.match(c)) for c in value)):
        raise unauthorized("The access token's 'conversations' claim must list conversation ids (or \"*\").",
                           "Fix the token your portal mints (see docs/deploying.md).")
    if "*" in value and role != "agent":
        raise unauthorized("A customer's access token cannot grant every conversation (\"*\").",
                           "List the customer's own conversations in the token.")
    return tuple(value)


def _claim_checks(audience: str, issuer: str) -> dict:
    """PyJWT's keyword arguments for `aud`/`iss`: required and compared when configured."""
    required = [*REQUIRED_CLAIMS, *(["aud"] if audience else []), *(["iss"] if issuer else [])]
    return {"audience": audience or None, "issuer": issuer or None, "options": {"require": required}}


def verify_token(token: str, secret: bytes, audience: str = "", issuer: str = "") -> Principal:
    """A Principal from a portal-signed JWT, or ApiError 401 saying what is wrong with it.

    `audience` / `issuer`: what `[auth] audience` / `issuer` say ("" = not configured).
    """
    if len(token) > MAX_TOKEN:
        raise unauthorized("The access token is too long.", _SIGN_IN_AGAIN)
    try:
        alg = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError:
        raise unauthorized("The access token is not a signed token (JWT).", _SIGN_IN_AGAIN) from None
    if alg != ALGORITHM:
        shown = alg if isinstance(alg, str) and len(alg) <= 20 else "?"
        raise unauthorized(f"The access token is signed with {shown!r}; only {ALGORITHM} is accepted.",
                           "Mint tokens with HS256 and the key in [auth] secret_file.")
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], leeway=LEEWAY, **_claim_checks(audience, issuer))
    except jwt.ExpiredSignatureError:
        raise unauthorized("The access token has expired.", _SIGN_IN_AGAIN, "token_expired") from None
    except jwt.MissingRequiredClaimError as e:
        setting = {"aud": "audience", "iss": "issuer"}.get(e.claim)
        raise unauthorized(f"The access token lacks the '{e.claim}' claim.",
                           f"This server's [auth] {setting} requires it in every token." if setting else
                           f"Tokens carry {', '.join(REQUIRED_CLAIMS)} (see docs/deploying.md).") from None
    except jwt.InvalidSignatureError:
        raise unauthorized("The access token's signature does not match this server's key.",
                           "Sign with the key in [auth] secret_file.") from None
    except jwt.ImmatureSignatureError:
        raise unauthorized("The access token is not valid yet.", "Check the portal's clock.") from None
    except jwt.InvalidAudienceError:
        raise unauthorized(*_wrong_audience(audience)) from None
    except jwt.InvalidIssuerError:
        raise unauthorized("The access token's 'iss' claim is not this server's [auth] issuer.",
                           "Mint tokens with the issuer set in [auth] issuer.") from None
    except jwt.InvalidTokenError:
        raise unauthorized("The access token is not valid.", _SIGN_IN_AGAIN) from None
    role = payload["role"]
    if role not in ROLES:
        raise unauthorized("The access token's 'role' claim must be \"agent\" or \"customer\".",
                           "Fix the token your portal mints (see docs/deploying.md).")
    return Principal(_text_claim(payload, "sub", 255), _text_claim(payload, "name", 200), role,
                     _conversations(payload, role), float(payload["exp"]))


def _wrong_audience(audience: str) -> tuple[str, str]:
    if not audience:
        return ("The access token names an audience ('aud') and this server has none configured: "
                "it is meant for another service.",
                "Mint tokens without 'aud', or set [auth] audience to the audience your portal names.")
    return (f"The access token's 'aud' claim does not name this server's audience ({audience!r}).",
            "Mint tokens with 'aud' set to [auth] audience.")


def bearer_token(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def authenticate(request: Request, config: Config) -> Principal:
    """The Principal for the request's `Authorization: Bearer` token, or ApiError 401.

    Only the header counts, in both modes: a token in a URL ends up in logs and
    history. The events stream, which EventSource opens without headers, takes
    a single-use ticket instead (server.auth.tickets).
    """
    token = bearer_token(request)
    if not token:
        hint = ("Send 'Authorization: Bearer <token>' with the token your portal issued."
                if config.auth else "Send 'Authorization: Bearer <token>' with a token from the server's [identities].")
        raise unauthorized("Missing access token.", hint, "unauthorized")
    if config.auth is not None:
        return verify_token(token, config.auth.secret, config.auth.audience, config.auth.issuer)
    principal = _dev_lookup(config, token)
    if principal is None:
        raise unauthorized("Unknown access token.",
                           "Send 'Authorization: Bearer <token>' with a token from the server's [identities].",
                           "unauthorized")
    return principal
