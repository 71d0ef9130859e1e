"""The browser page: index.html, pyscript.toml, /app/** and /static/**.

Why a hand-rolled handler instead of StaticFiles: we need an explicit
allow-list of roots (never .venv, data/, .git), our own MIME table (.wasm and
.mjs must be right for Pyodide whatever /etc/mime.types says), and the page
CSP on every response.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from server.common import ApiError

PAGE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; style-src 'self'; "
            "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'")
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}

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
_REFUSED_SUFFIXES = (".pyc", ".pyo")


def _not_found(path: str) -> ApiError:
    return ApiError(404, "not_found", f"{path} does not exist.")


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


def file_response(request: Request, full: Path) -> Response:
    stat = full.stat()
    media_type = MIME.get(full.suffix.lower(), "application/octet-stream")
    response = FileResponse(full, media_type=media_type, headers=PAGE_HEADERS, stat_result=stat)
    etag = response.headers.get("etag")
    if etag and etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={**PAGE_HEADERS, "ETag": etag})
    return response


def under(dirname: str):
    """Endpoint serving files below root/dirname."""
    async def endpoint(request: Request) -> Response:
        base = request.app.state.static_root / dirname
        full = resolve(base, request.path_params["path"])
        if full is None:
            raise _not_found(request.url.path)
        return file_response(request, full)
    endpoint.__name__ = f"static_{dirname}"
    return endpoint


def single(filename: str):
    """Endpoint serving one file from the root."""
    async def endpoint(request: Request) -> Response:
        full = resolve(request.app.state.static_root, filename)
        if full is None:
            raise _not_found(request.url.path)
        return file_response(request, full)
    endpoint.__name__ = f"static_{filename.replace('.', '_')}"
    return endpoint


async def page_config(request: Request) -> Response:
    """GET /attache-config.json: what the page needs to talk to this server.

    Development (no [auth]): the demo identities with their tokens, handed to
    anyone who can load the page, and `"mode": "development"` so the page can
    say so. Production: no token at all; the page gets one from the portal at
    `token_url` (with the portal's cookies), or from the embedding page's code.
    """
    config = request.app.state.config
    backend = {"adapter": "reference", "base_url": "", "conversation": "default"}
    if config.auth is None:
        backend["identities"] = {name: {"token": token, "name": name.replace("_", " ").title()}
                                 for name, token in config.identities.items()}
    else:
        backend["token_url"] = config.auth.token_url
    return JSONResponse({"mode": config.mode, "backend": backend}, headers={"Cache-Control": "no-store"})
