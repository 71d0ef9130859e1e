"""The ASGI application: routes, middleware, state.

`create_app` builds everything from a config file and a data dir so tests and
`python -m server` start the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import static, sweeper, tus, tus_routes
from server.common import ApiError, api_error_handler, http_exception_handler, server_error_handler
from server.config import Config, load_config
from server.events import Broker, events
from server.media import Signer, download, load_secret
from server.messages import history, send
from server.openapi import openapi
from server.store import Store
from server.uploads import Uploads

REPO_ROOT = Path(__file__).resolve().parent.parent


async def restrictions(request: Request) -> Response:
    """GET /api/restrictions (public: the page shows them before anyone signs in)."""
    return JSONResponse(request.app.state.config.restrictions.to_json())


class SecurityHeaders:
    """nosniff on everything; API answers are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        api = scope["path"].startswith("/api/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if api and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


def begin_shutdown(app: Starlette) -> None:
    """Called before the server waits for open connections: end SSE streams, stop running uploads."""
    app.state.broker.close()
    app.state.uploads.stopping = True


def create_app(config_path: str | Path | None = None, data_dir: str | Path = "data",
               static_root: str | Path | None = None, *, config: Config | None = None,
               keepalive: float = 15.0, sweep_interval: float | None = None) -> Starlette:
    """Build the app; raises `ConfigError` for a bad config file."""
    config = config or load_config(config_path)
    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    store = Store(data / "attache.sqlite3")
    uploads = Uploads(store, data, config.restrictions, config.upload_expiry)
    interval = sweep_interval or sweeper.default_interval(config.upload_expiry)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper.sweep(uploads)                 # what expired while the server was down goes first
        sweeping = asyncio.create_task(sweeper.run(uploads, interval))
        yield
        sweeping.cancel()
        app.state.broker.close()
        await uploads.wait_idle(2.0)
        store.close()

    routes = [
        Route("/api/restrictions", restrictions),
        *tus_routes.routes(),
        Route("/api/conversations/{cid}/messages", history, methods=["GET"]),
        Route("/api/conversations/{cid}/messages", send, methods=["POST"]),
        Route("/api/conversations/{cid}/events", events),
        Route("/api/openapi.json", openapi),
        Route("/media/{sha256}/{filename:path}", download),
        Route("/attache-config.json", static.page_config),
        Route("/", static.single("index.html")),
        Route("/index.html", static.single("index.html")),
        Route("/pyscript.toml", static.single("pyscript.toml")),
        Route("/app/{path:path}", static.under("app")),
        Route("/static/{path:path}", static.under("static")),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(CORSMiddleware, allow_origins=list(config.cors_allow_origins),
                   allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
                   allow_headers=["Authorization", "Content-Type", "Last-Event-ID", *tus.REQUEST_HEADERS],
                   expose_headers=tus.EXPOSE_HEADERS, max_age=600),
        Middleware(tus.TusProtocol),         # inside CORS: preflights never reach it
    ]
    handlers = {ApiError: api_error_handler, HTTPException: http_exception_handler, 500: server_error_handler}
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)
    app.state.config = config
    app.state.store = store
    app.state.uploads = uploads
    app.state.broker = Broker()
    app.state.signer = Signer(load_secret(data))
    app.state.static_root = Path(static_root) if static_root is not None else REPO_ROOT
    app.state.keepalive = keepalive
    return app
