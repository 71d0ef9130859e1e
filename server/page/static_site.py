"""The browser page: the site build.py writes to build/site (index.html,
pyscript.toml, assets/**).

Why a hand-rolled handler instead of StaticFiles: we need an explicit
allow-list (the two pages and assets/, never anything else), our own MIME
table (.wasm and .mjs must be right for Pyodide whatever /etc/mime.types
says), the page CSP on every response, and the caching the build is made for:
assets carry a hash of their content in their name, so they are cached for a
year without revalidation (`immutable`; Chromium also keeps the compiled wasm
only for cacheable responses), while the two pages revalidate every time. An
asset's precompressed sibling (`.br`, `.gz`, written by the build) is sent
with Content-Encoding when the request accepts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server.config.config_file import Config
from server.http.api_error import ApiError
from server.page import first_paint
from server.services import Services

SITE_ROOT = Path(__file__).resolve().parents[2] / "build" / "site"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Precompressed siblings, best first, as the build writes them.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))

PAGE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; style-src 'self'; "
            "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'")
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": REVALIDATE}


def page_csp(config: Config) -> str:
    """The page's CSP: `connect-src` also admits the portal's origin when `[auth] token_url`
    is on another one (the page fetches its token there) and, with `[backend] kind = "matrix"`,
    the homeserver's (its media arrive as blob: URLs, which img-src and media-src allow); nothing else."""
    token_url = config.auth.token_url if config.auth is not None else ""
    parts = urlsplit(token_url)
    origins = [f"{parts.scheme.lower()}://{parts.netloc.lower()}"] if parts.scheme and parts.netloc else []
    if config.matrix is not None and config.matrix.origin not in origins:
        origins.append(config.matrix.origin)
    if not origins:
        return PAGE_CSP
    return PAGE_CSP.replace("connect-src 'self';", f"connect-src 'self' {' '.join(origins)};")

MIME = {
    ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
    ".json": "application/json", ".map": "application/json", ".toml": "application/toml",
    ".py": "text/x-python", ".txt": "text/plain", ".md": "text/markdown",
    ".wasm": "application/wasm", ".zip": "application/zip", ".whl": "application/zip",
    ".tar": "application/x-tar", ".gz": "application/gzip", ".data": "application/octet-stream",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".webp": "image/webp", ".ico": "image/x-icon", ".avif": "image/avif",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".jinja": "text/plain", ".j2": "text/plain",
}
_REFUSED_SUFFIXES = (".pyc", ".pyo", ".tmp")


def _not_found(path: str) -> ApiError:
    return ApiError(404, "not_found", f"{path} does not exist.")


def _not_built(root: Path) -> ApiError:
    return ApiError(404, "not_built", f"The page is not built in {root}.", "Run `python3 build.py setup`.")


def accepted_encodings(header: str) -> set[str]:
    """The content codings an Accept-Encoding header allows (q=0 refuses; `*` stands for any)."""
    allowed: set[str] = set()
    refused: set[str] = set()
    star = False
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name == "*":
            star = q > 0
        elif name:
            (allowed if q > 0 else refused).add(name)
    if star:
        allowed |= {name for name, _ in ENCODINGS} - refused
    return allowed


def resolve(base: Path, rel: str) -> Path | None:
    """The file under `base` named by `rel`, or None (dot segments, dotfiles, escapes, symlinks out)."""
    parts = rel.split("/")
    for part in parts:
        if part in ("", ".", "..") or part.startswith(".") or part == "__pycache__" or "\\" in part or "\0" in part:
            return None
    if rel.endswith(_REFUSED_SUFFIXES):
        return None
    base = base.resolve()
    try:
        full = base.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not full.is_relative_to(base) or not full.is_file():
        return None
    return full


def file_response(request: Request, full: Path, page_headers: dict[str, str],
                  cache_control: str = REVALIDATE) -> Response:
    headers = {**page_headers, "Cache-Control": cache_control}
    served = full
    variants = [(name, full.with_name(full.name + suffix)) for name, suffix in ENCODINGS]
    variants = [(name, path) for name, path in variants if path.is_file()]
    if variants:
        headers["Vary"] = "Accept-Encoding"
        accepted = accepted_encodings(request.headers.get("accept-encoding", ""))
        for name, path in variants:
            if name in accepted:
                served, headers["Content-Encoding"] = path, name
                break
    media_type = MIME.get(full.suffix.lower(), "application/octet-stream")
    response = FileResponse(served, media_type=media_type, headers=headers, stat_result=served.stat())
    etag = response.headers.get("etag")
    if etag and etag in request.headers.get("if-none-match", ""):
        headers.pop("Content-Encoding", None)
        return Response(status_code=304, headers={**headers, "ETag": etag})
    return response


class Site:
    """The built page (`root`, build/site by default) served for this server: its headers, its first paint."""

    def __init__(self, root: Path, state: Services) -> None:
        self.root, self.state, self.config = root, state, state.config
        self.headers = {**PAGE_HEADERS, "Content-Security-Policy": page_csp(state.config)}
        self.shell = first_paint.Shell()

    def page_routes(self) -> list[Route]:
        return [
            Route("/", self.single("index.html")),
            Route("/index.html", self.single("index.html")),
            Route("/pyscript.toml", self.single("pyscript.toml")),
            Route("/attache.js", self.single("attache.js")),
            Route("/assets/{path:path}", self.asset),
        ]

    async def asset(self, request: Request) -> Response:
        """GET /assets/<hashed name>: cached for good, precompressed when accepted."""
        full = resolve(self.root / "assets", request.path_params["path"])
        if full is None:
            raise _not_found(request.url.path)
        return file_response(request, full, self.headers, IMMUTABLE)

    def single(self, filename: str):
        """Endpoint serving one page of the site root (revalidated on every use); index.html
        with the canvas drawn for the request (server/page/first_paint.py)."""
        async def endpoint(request: Request) -> Response:
            full = resolve(self.root, filename)
            if full is None:
                raise _not_built(self.root) if not (self.root / "index.html").exists() else _not_found(request.url.path)
            page = (first_paint.page_response(request, full, self.headers, self.state, self.shell)
                    if filename == "index.html" else None)
            return page or file_response(request, full, self.headers)
        endpoint.__name__ = f"static_{filename.replace('.', '_')}"
        return endpoint

    async def page_config(self, request: Request) -> Response:
        """GET /attache-config.json (`page_config`)."""
        return page_config(self.config)


def page_config(config: Config) -> Response:
    """GET /attache-config.json: what the page needs to talk to this server.

    Development (no [auth]): the demo identities with their tokens, handed to
    anyone who can load the page, and `"mode": "development"` so the page can
    say so. Production: no token at all; the page gets one from the portal at
    `token_url` (with the portal's cookies), or from the embedding page's code.
    """
    if config.matrix is not None:   # the page talks to the homeserver; this server only serves it
        token_url = None if config.auth is None else config.auth.token_url
        matrix_backend = config.matrix.page_backend(config.restrictions, token_url)
        return JSONResponse({"mode": config.mode, "backend": matrix_backend}, headers={"Cache-Control": "no-store"})
    backend: dict[str, Any] = {"adapter": "reference", "base_url": "", "conversation": "default"}
    if config.auth is None:
        backend["identities"] = {name: {"token": token, "name": name.replace("_", " ").title()}
                                 for name, token in config.identities.items()}
    else:
        backend["token_url"] = config.auth.token_url
    return JSONResponse({"mode": config.mode, "backend": backend}, headers={"Cache-Control": "no-store"})
