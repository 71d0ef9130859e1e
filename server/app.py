"""The ASGI application: the one routing table, the middleware, the services they are given.

`create_app` builds everything from a config file and a data dir so tests and
`python -m server` start the same thing. Every endpoint gets its services when
the routes are made (server/services.py), never from a bag on the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.blobs.open_store import open_blobs
from server.config.config_file import Config, load_config
from server.conversations import events, events_multi, messages
from server.http.api_error import ApiError, api_error_handler, http_exception_handler, server_error_handler
from server.http.query_guard import QueryGuard
from server.http.security_headers import SecurityHeaders, hsts_mode
from server.live.live_state import live_state
from server.live.upload_locks import upload_lock
from server.media.downloads import MediaDownloads
from server.media.link_signer import Signer
from server.media.thumbnails import Thumbnails
from server.openapi.document import OpenApiEndpoint
from server.page.static_site import SITE_ROOT, Site
from server.services import Services
from server.store.data_dir import private_database, private_dir
from server.store.migrate import open_database
from server.store.queries import Store
from server.uploads import sweeper, tus_protocol
from server.uploads.quotas import Quotas
from server.uploads.service import Uploads
from server.uploads.tus_routes import TusRoutes


class AttacheApp(Starlette):
    """The Starlette app, holding the services it was built with (for `python -m server` and tests)."""

    def __init__(self, services: Services, **starlette: Any) -> None:
        super().__init__(**starlette)
        self.services = services

    def begin_shutdown(self) -> None:
        """Called before the server waits for open connections: end SSE streams, stop running uploads."""
        self.services.broker.close()
        self.services.uploads.stopping = True


def create_app(config_path: str | Path | None = None, data_dir: str | Path = "data",
               static_root: str | Path | None = None, *, config: Config | None = None,
               keepalive: float = 15.0, sweep_interval: float | None = None,
               stream_heartbeat: float | None = None) -> AttacheApp:
    """Build the app; raises `ConfigError` for a bad config file, `DatabaseUnavailable` when the database
    cannot be reached or migrated, `StorageUnavailable` for a file storage that cannot be used. Nothing else
    connects before the lifespan starts (Redis)."""
    config = config or load_config(config_path)
    data = private_dir(Path(data_dir))
    database = open_database(config.database_url, private_database(data / "attache.sqlite3"))   # or DatabaseUnavailable
    store = Store(database)
    quotas = Quotas(database, config.max_open_uploads, config.daily_bytes_per_identity, config.upload_expiry)
    blobs = open_blobs(config.storage, data)
    blobs.check()                          # StorageUnavailable: `python -m server` names the store and exits
    live = live_state(config.broker_url, config.max_streams_per_identity, store.last_seq, stream_heartbeat,
                      cluster=store.cluster_id())
    # made when an upload completes; each one rings its messages' update events, on every process
    thumbnails = Thumbnails(store, blobs, announce=live.broker.ring)
    locks = upload_lock(live.redis, live.prefix)
    uploads = Uploads(store, blobs, config.restrictions, config.upload_expiry, quotas, locks, thumbnails)
    interval = sweep_interval or sweeper.default_interval(config.upload_expiry)
    broker, signer = live.broker, Signer(blobs.link_secret(), config.media_link_ttl)
    twilio = None
    if config.twilio is not None:                  # [backend] kind = "twilio"
        from server.bridges.twilio.backend import TwilioBackend  # loads the `twilio` library only for this kind
        twilio = TwilioBackend(config.twilio, store, uploads, thumbnails, broker, signer, data)
    state = Services(config, store, uploads, thumbnails, broker, signer, live.tickets, live.slots, twilio, keepalive)
    site = Site(Path(static_root) if static_root is not None else SITE_ROOT, state)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if live.start is not None:
            await live.start()                 # [broker]: raises when Redis cannot be reached
        await sweeper.sweep_at_start(uploads)  # what expired while the server was down goes first
        sweeping = asyncio.create_task(sweeper.run(uploads, interval))
        backfilling = asyncio.create_task(thumbnails.backfill())
        yield
        sweeping.cancel()
        backfilling.cancel()
        await thumbnails.close()
        broker.close()
        if live.stop is not None:
            await live.stop()
        await uploads.wait_idle(2.0)
        if twilio is not None:
            await twilio.aclose()
        store.close()

    async def restrictions(request: Request) -> Response:
        """GET /api/restrictions (public: the page shows them before anyone signs in)."""
        return JSONResponse(config.restrictions.to_json())

    routes = [
        Route("/api/restrictions", restrictions),
        *TusRoutes(uploads, config).routes(),
        Route("/api/conversations/{cid}/restrictions", partial(messages.conversation_restrictions, state=state)),
        Route("/api/conversations/{cid}/messages", partial(messages.history, state=state), methods=["GET"]),
        Route("/api/conversations/{cid}/messages", partial(messages.send, state=state), methods=["POST"]),
        Route("/api/conversations/{cid}/events", partial(events.events, state=state)),
        Route("/api/conversations/{cid}/events/ticket", partial(events.ticket, state=state), methods=["POST"]),
        Route("/api/events", partial(events_multi.events, state=state)),
        Route(events_multi.TICKET_PATH, partial(events_multi.ticket, state=state), methods=["POST"]),
        Route("/api/openapi.json", OpenApiEndpoint(config, keepalive).get),
        *MediaDownloads(store, blobs, signer).routes(),   # /media/{sha256}/{filename}, /thumbnails/{sha256}
        Route("/attache-config.json", site.page_config),
        *(twilio.routes() if twilio is not None else []),   # POST /twilio/webhook, signed by Twilio
        *site.page_routes(),
    ]
    middleware = [
        Middleware(SecurityHeaders, embed_origins=config.embed_origins,
                   hsts=hsts_mode(config.auth is not None, config.public_origin)),
        # Bearer tokens, not cookies, authorise the API; credentials only for a proxy that
        # needs cookies, and config validation never lets them meet "*".
        Middleware(CORSMiddleware, allow_origins=list(config.cors_allow_origins),
                   allow_credentials=config.cors_allow_credentials,
                   allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
                   allow_headers=["Authorization", "Content-Type", "Last-Event-ID", *tus_protocol.REQUEST_HEADERS],
                   expose_headers=[*tus_protocol.EXPOSE_HEADERS, "Retry-After"], max_age=600),
        Middleware(tus_protocol.TusProtocol),         # inside CORS: preflights never reach it
        Middleware(QueryGuard),              # inside tus: its 400s carry Tus-Resumable too
    ]
    handlers = {ApiError: api_error_handler, HTTPException: http_exception_handler, 500: server_error_handler}
    app = AttacheApp(state, routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)
    # No trailing-slash redirects: Starlette builds their Location from the request's Host header,
    # which the client chooses; a path that is not a route is a 404.
    app.router.redirect_slashes = False
    return app
