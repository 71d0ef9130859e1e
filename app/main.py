"""Attache in the browser: read the page config, get a token, pick the adapter, mount the canvas.

The config URL comes from the page (`data-config` on #attache), so a portal
embedding the canvas points it at its own backend. In development the config
offers identities with their tokens and `?as=` picks one; in production it
names the portal's `token_url` (or none: the embedding page hands tokens over
in code, see app.browser.auth). Who we are — which messages are "You" — is the
token's `sub`. `?conversation=` picks one conversation.
"""
import asyncio

from js import URLSearchParams, document, location

from app.backends import create_backend
from app.browser import auth, diagnostics
from app.browser.canvas import Canvas
from app.browser.dom import Root, maybe
from app.browser.links import LinkRefresher
from app.browser.notices import Notices
from app.browser.signin import SignInView
from app.browser.storage import UnsentStore
from app.browser.transport import get_json
from app.core.errors import BackendError
from app.core.models import Problem

DEFAULT_IDENTITY = "agent"


def display_names(identities: dict) -> dict[str, str]:
    """identity -> the name people see ("customer" -> "Customer" unless the config names it)."""
    return {name: (entry.get("name") if isinstance(entry, dict) else None) or name.title()
            for name, entry in identities.items()}


def acting_as(config: dict, session: auth.Session) -> dict:
    """The config the adapter is built from, holding the session's token under its sub."""
    backend = dict(config["backend"])
    name = session.claims.name or session.claims.sub
    backend["identities"] = {session.claims.sub: {"token": session.token, "name": name}}
    return {**config, "backend": backend}


def show_mode(root: Root, config: dict) -> None:
    """Development mode says so in the header: every token in it is public."""
    marker = root.by_id("mode-marker")
    if marker is not None:
        marker.hidden = config.get("mode") != "development"


async def main() -> None:
    root = Root(document.getElementById("attache"))  # the one lookup outside the canvas
    try:
        config = await get_json(root.element.dataset.config or "./attache-config.json")
        params = URLSearchParams.new(location.search)
        conversation = maybe(params.get("conversation"))
        if conversation and isinstance(config, dict) and isinstance(config.get("backend"), dict):
            config["backend"]["conversation"] = conversation
        session = auth.from_config(config, maybe(params.get("as")) or DEFAULT_IDENTITY)
    except ValueError as error:
        return _cannot_start(root, error)
    show_mode(root, config)
    auth.install(session)
    signin = SignInView(root, session)
    claims = await signin.first_token()
    try:
        backend = create_backend(acting_as(config, session), claims.sub)  # ValueError naming what is wrong
    except (ValueError, BackendError) as error:
        return _cannot_start(root, error)
    session.on_token.append(lambda: setattr(backend.api, "token", session.token))
    session.on_token.append(lambda: session.claims.sub != claims.sub and location.reload())  # someone else now
    settings = config["backend"]
    identities = settings.get("identities")
    if isinstance(identities, dict) and identities:  # development: the other identities are the peers
        names = display_names(identities)
        peer = ", ".join(label for name, label in names.items() if name != claims.sub) or "everyone"
        root.by_id("peer").textContent = f"Conversation with {peer}"
    else:
        names = {claims.sub: claims.name}
    root.element.dataset.identity = claims.sub
    scope = f"{settings.get('base_url') or location.origin}|{settings.get('conversation', 'default')}|{claims.sub}"
    canvas = Canvas(root, backend, claims.sub, names, UnsentStore(scope))
    signin.signed_in_again.append(canvas.live.reconnect_now)
    links = LinkRefresher(canvas.history, backend.api)
    diagnostics.install(canvas.diagnostics)
    await canvas.start()
    links.bind()


def _cannot_start(root: Root, error: Exception) -> None:
    problem = error.problem if isinstance(error, BackendError) else Problem(
        "config", f"Attache cannot start: {error}", "Reload the page, or ask your administrator.")
    Notices(root.by_id("notices")).show(problem)


asyncio.ensure_future(main())
