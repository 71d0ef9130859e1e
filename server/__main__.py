"""`python -m server --host 127.0.0.1 --port 8000 --config FILE --data DIR`

Why a pre-bound socket: `--port 0` then gets a free port that we can print
(tests read it from stdout instead of racing for a port). Why a Server
subclass: uvicorn waits for open responses before shutting down, and SSE
streams never finish on their own, so the broker is closed first. Why the
banner differs by mode: development must be impossible to mistake for a
deployment, and a deployment must never print a secret.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

import uvicorn

from server.app import AttacheApp, create_app
from server.blobs.protocol import StorageUnavailable
from server.config.config_error import ConfigError
from server.config.config_file import Config, load_config
from server.http import header_deadline
from server.http.log_redaction import install_log_redaction
from server.page.static_site import SITE_ROOT
from server.store.database import DatabaseUnavailable, shown_url

DEV_WARNING = """\
  !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
  !! DEVELOPMENT MODE: no [auth] table in the config.                      !!
  !! Anyone who can reach this server gets every identity's token from     !!
  !! /attache-config.json and can read and post in every conversation.     !!
  !! Do not expose it to real users: see docs/deploying.md.                !!
  !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: AttacheApp) -> None:
        super().__init__(config)
        self.attache = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.attache.begin_shutdown()     # end SSE streams so the connections can close
        await super().shutdown(sockets=sockets)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m server", description="Attache reference conversations server")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (0 = any free port; default 8000)")
    p.add_argument("--config", default=None, help="TOML config (default: server/config/default.toml)")
    p.add_argument("--data", default="data", help="data directory: database, media, partial uploads (default ./data)")
    p.add_argument("--static-root", default=str(SITE_ROOT),
                   help="the built site: index.html, pyscript.toml, assets/ (default build/site, by build.py)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--keepalive", type=float, default=15.0, help=argparse.SUPPRESS)   # seconds, for tests
    p.add_argument("--sweep-interval", type=float, default=None, help=argparse.SUPPRESS)   # seconds, for tests
    p.add_argument("--stream-heartbeat", type=float, default=None, help=argparse.SUPPRESS)  # seconds, for tests
    return p.parse_args(argv)


def banner(config: Config, base: str, data: Path) -> str:
    """What `serve` prints: URLs and mode; development tokens only in development (they are public there)."""
    lines = [f"Attache reference server on {base}/ ({config.mode} mode)"]
    if config.auth is None:
        lines.append(DEV_WARNING)
        if config.matrix is None:
            lines += [f"  agent:    {base}/", f"  customer: {base}/?as=customer"]
            lines += [f"  token {name}: {token}" for name, token in config.identities.items()]
    else:
        token_url = config.auth.token_url or "(none: the embedding page hands the token over)"
        lines += [f"  tokens: HS256, signed with the key in {config.auth.secret_file}",
                  f"  token_url for the page: {token_url}"]
    if config.matrix is not None:   # the page talks to the homeserver; Matrix tokens are never printed
        m = config.matrix
        lines.append(f"  backend:  Matrix room {m.room} on {m.homeserver}")
        lines += [f"  {name}: {base}/?as={name}" for name in m.identities]
    if config.twilio is not None:
        t = config.twilio
        lines += [f"  backend:  Twilio Conversations service {t.chat_service_sid} (open {base}/?conversation=CH...)",
                  f"  webhook:  set the service's Post-Event URL to {t.webhook_url} (onMessageAdded)"]
    lines.append(f"  config:   {config.source}   data: {data}")
    if config.database_url is not None:
        lines.append(f"  database: {shown_url(config.database_url)}")
    if config.storage is not None:
        lines.append(f"  files:    {config.storage.url}" + (f" at {config.storage.endpoint_url}"
                                                            if config.storage.endpoint_url else ""))
    return "\n".join(lines)


def uvicorn_config(app: AttacheApp, config: Config, log_level: str) -> uvicorn.Config:
    """Limits from [server]: concurrent connections (503 beyond), idle keep-alive seconds, and the
    seconds a request's headers may take (server/http/header_deadline.py: 408 beyond)."""
    # a stalled upload is cancelled after 3 s (it still records its offset); nothing else can hang.
    # asyncio's own loop, even where uvloop is installed ("auto" would take it): with uvloop, one send in
    # twenty of bench/load.py on the shared services waited 2-3 s on a new connection before it reached
    # the app (docs/cluster.md, "ninth look").
    return uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=3, lifespan="on", loop="asyncio",
                          limit_concurrency=config.limit_concurrency, timeout_keep_alive=config.timeout_keep_alive,
                          http=header_deadline.protocol(config.timeout_request_headers), server_header=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"attache: config error: {e}", file=sys.stderr)
        return 2
    if config.broker_url is not None:
        from server.live.redis_broker import check_reachable  # imports redis only with a [broker]
        problem = check_reachable(config.broker_url)
        if problem is not None:
            print(f"attache: {problem}", file=sys.stderr)
            return 1
    try:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only
        # when the listening socket says so; without it each kept-alive response
        # waits ~40 ms for the client's delayed ACK (Nagle).
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
    except OSError as e:
        print(f"attache: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 2
    try:
        app = create_app(config=config, data_dir=args.data, static_root=args.static_root, keepalive=args.keepalive,
                         sweep_interval=args.sweep_interval, stream_heartbeat=args.stream_heartbeat)
    except DatabaseUnavailable as e:
        print(f"attache: cannot start: the database {e.where} cannot be used: {e.why}", file=sys.stderr)
        return 1                         # as for an unreachable broker
    except StorageUnavailable as e:
        print(f"attache: cannot start: the file storage {e.where} cannot be used: {e.why}", file=sys.stderr)
        return 3
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(banner(config, f"http://{host}:{port}", Path(args.data).resolve()), flush=True)
    server = _Server(uvicorn_config(app, config, args.log_level), app)
    install_log_redaction()          # after uvicorn.Config, which sets up its loggers
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:   # uvicorn re-raises Ctrl-C after a clean shutdown; no traceback for that
        return 130
    return 0 if server.started else 1     # the lifespan failed (a service lost between the check and the start)


if __name__ == "__main__":
    sys.exit(main())
