"""Attache in the browser: read the page config, get a token, pick the adapter, mount the canvas.

Each canvas is an element drawn before Python ran: the page's own (#attache,
drawn by the server) or one inside an <attache-canvas> element's shadow root.
static/early.mjs registers each in `globalThis.__attache` and Python mounts them
all, and any registered later. The config URL comes from the canvas
(`data-config`), so a portal points it at its own backend (on another origin
too: a relative `base_url` then means the config's origin). In development the
config offers identities with their tokens and the element's `identity`
attribute, else `?as=`, picks one; in production it names the portal's
`token_url` (or none: the embedding page hands tokens over in code, see
app.browser.auth). Who we are — which messages are "You" — is the token's
`sub`, or what the backend's setup step says (Matrix: the user id; the canvas
sets it once). The conversation comes from the element's attribute, else
`?conversation=` (Matrix: the room in the config).
"""
import asyncio

from js import URL, URLSearchParams, document, globalThis, location
from pyodide.ffi import create_proxy

from app.backends import create_backend
from app.browser import auth, diagnostics, portal
from app.browser.canvas import Canvas
from app.browser.dom import Root, maybe
from app.browser.links import LinkRefresher
from app.browser.notices import Notices
from app.browser.signin import SignInView
from app.browser.storage import UnsentStore
from app.browser.transport import get_json
from app.core.errors import BackendError
from app.core.models import Problem
from app.core.token import TokenClaims
from app.page import display_names, title_for

DEFAULT_IDENTITY = "agent"
DEFAULT_CONFIG_URL = "./attache-config.json"


def _data(element, name: str) -> str | None:
    """A data-* attribute of the canvas, or None (a missing JS property raises AttributeError)."""
    return maybe(getattr(element.dataset, name, None)) or None


def base_url_for(settings: dict, config_url: str) -> str:
    """The backend's base URL; relative to the config's origin when that is not the page's."""
    base = settings.get("base_url", "")
    origin = str(URL.new(config_url).origin)
    if not isinstance(base, str) or base.startswith(("http://", "https://")) or origin == str(location.origin):
        return base
    return str(URL.new(base or "/", config_url).href).rstrip("/")


def acting_as(config: dict, session: auth.Session, claims: TokenClaims) -> dict:
    """The config the adapter is built from, holding the session's token under its sub
    (with what else the config says of that identity: a Matrix user id)."""
    backend = dict(config["backend"])
    sub, name = claims.sub, claims.name or claims.sub
    identities = backend.get("identities")
    entry = identities.get(sub) if isinstance(identities, dict) else None
    backend["identities"] = {sub: {**(entry if isinstance(entry, dict) else {}), "token": session.token, "name": name}}
    return {**config, "backend": backend}


def show_mode(root: Root, config: dict) -> None:
    """Development mode says so in the header: every token in it is public."""
    marker = root.by_id("mode-marker")
    if marker is not None:
        marker.hidden = config.get("mode") != "development"


async def main(root: Root) -> None:
    element = root.element
    try:
        config_url = str(URL.new(_data(element, "config") or DEFAULT_CONFIG_URL, location.href).href)
        config = await get_json(config_url)
        params = URLSearchParams.new(location.search)
        identity = _data(element, "identity") or maybe(params.get("as")) or DEFAULT_IDENTITY
        conversation = _data(element, "conversation") or maybe(params.get("conversation"))
        if isinstance(config, dict) and isinstance(config.get("backend"), dict):
            if conversation:
                config["backend"]["conversation"] = conversation
            config["backend"]["base_url"] = base_url_for(config["backend"], config_url)
        session = auth.from_config(config, identity)
    except ValueError as error:
        return _cannot_start(root, error)
    show_mode(root, config)
    auth.install(session)
    signin = SignInView(root, session)
    claims = await signin.first_token()
    try:
        backend = create_backend(acting_as(config, session, claims), claims.sub)  # ValueError naming what is wrong
    except (ValueError, BackendError) as error:
        return _cannot_start(root, error)
    session.on_token.append(lambda: setattr(backend.api, "token", session.token))

    def reload_for_someone_else() -> None:
        if session.claims is not None and session.claims.sub != claims.sub:
            location.reload()
    session.on_token.append(reload_for_someone_else)
    settings = config["backend"]
    identities = settings.get("identities")
    if isinstance(identities, dict) and identities:  # development: the other identities are the peers
        names = display_names(identities)
        root.by_id("peer").textContent = title_for(names, claims.sub)
    else:
        names = {claims.sub: claims.name}
    conversation = backend.api.conversation   # a Matrix room
    place = f"{settings.get('homeserver') or settings.get('base_url') or location.origin}|{conversation}"
    canvas = Canvas(root, backend, claims.sub, names, UnsentStore(place, claims.sub))
    canvas.on_signed_out = signin.show
    canvas.connection.sign_in_again = signin.refused
    signin.signed_in_again.append(canvas.live.reconnect_now)
    links = LinkRefresher(canvas.history, backend.api)
    portal.connect(root, canvas, conversation)
    diagnostics.install(canvas.diagnostics)
    await canvas.start()
    links.bind()


def _cannot_start(root: Root, error: Exception) -> None:
    problem = error.problem if isinstance(error, BackendError) else Problem(
        "config", f"Attache cannot start: {error}", "Reload the page, or ask your administrator.")
    notices = Notices(root.by_id("notices"))
    notices.on_show = lambda shown: root.emit(portal.ERROR, portal.problem_detail(shown))
    notices.show(problem)
    root.give_up()


def mount(element) -> None:
    asyncio.ensure_future(main(Root(element)))


registry = maybe(getattr(globalThis, "__attache", None))
if registry is None:  # static/early.mjs did not run: the page's own canvas, as it is
    page = maybe(document.getElementById("attache"))
    if page is not None:
        mount(page)
else:
    registry.mount = create_proxy(mount)
    for waiting in list(registry.pending.splice(0)):
        mount(waiting)
