"""Mint an access token the way a portal does: `python3 build.py token ...`.

Why it exists: for tests, for trying production mode locally, and as the
reference a portal's developers can compare their own tokens with. It signs
with the same key file the server reads (`[auth] secret_file`), bytes as
stored, HS256, with the claims `server.auth.principals` requires.
"""

from __future__ import annotations

import argparse
import sys
import time

import jwt

from server.auth.principals import ALGORITHM, MAX_CONVERSATIONS, ROLES
from server.config.config_error import ConfigError
from server.config.config_file import load_config, parse_duration
from server.http.inputs import CONVERSATION_ID


def mint(secret: bytes, sub: str, role: str, conversations: list[str], name: str = "",
         ttl: int = 3600, now: float | None = None, audience: str = "", issuer: str = "") -> str:
    """A signed token; ValueError for what the server would refuse. `audience`/`issuer`:
    the server's `[auth] audience`/`issuer` (claims `aud`/`iss`, left out when empty)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not conversations or len(conversations) > MAX_CONVERSATIONS:
        raise ValueError("give at least one --conversation")
    for cid in conversations:
        if cid == "*" and role != "agent":
            raise ValueError("only agents may have every conversation ('*')")
        if cid != "*" and not CONVERSATION_ID.match(cid):
            raise ValueError(f"{cid!r} is not a conversation id (letters, digits, '.', '_', ':' or '-')")
    if not sub.strip():
        raise ValueError("--sub must not be empty")
    issued = int(time.time() if now is None else now)
    claims = {"sub": sub, "name": name or sub, "role": role, "conversations": conversations,
              "iat": issued, "exp": issued + ttl,
              **({"aud": audience} if audience else {}), **({"iss": issuer} if issuer else {})}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="build.py token", description="Print one access token for a production config.")
    p.add_argument("--config", required=True, help="the server's TOML config (with an [auth] table)")
    p.add_argument("--sub", required=True, help="the user's stable id")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--conversation", action="append", required=True, metavar="ID",
                   help="a conversation the user may use (repeat for several; '*' = all, agents only)")
    p.add_argument("--name", default="", help="the name the other side sees (default: the sub)")
    p.add_argument("--ttl", default="1h", help="lifetime such as 15m, 1h, 1d (default 1h)")
    args = p.parse_args(argv)
    try:
        config = load_config(args.config)
        if config.auth is None:
            raise ConfigError(f"{args.config}: no [auth] table: development mode has no signed tokens")
        ttl = int(parse_duration(args.ttl))
        if ttl <= 0:
            raise ValueError("--ttl must be longer than 0 s")
        print(mint(config.auth.secret, args.sub, args.role, args.conversation, args.name, ttl,
                   audience=config.auth.audience, issuer=config.auth.issuer))
    except (ConfigError, ValueError) as e:
        print(f"build.py token: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
