#!/usr/bin/env python3
"""Attache's one entry point: set up, serve, test, bench.

    python3 build.py serve [--host H] [--port P] [--config FILE] [--data DIR]
    python3 build.py test  [pytest args...]     # no args: ruff and mypy, every test, then the browser ones
                                               # in production mode; with args: only pytest, with those args
    python3 build.py bench [startup|upload|history ...]
    python3 build.py dist OUT                  # the page as a static bundle in OUT
    python3 build.py setup                     # only the set-up steps
    python3 build.py token --config FILE --sub ID --role agent|customer --conversation ID [--name N] [--ttl 1h]

Every command first does the whole set-up, skipping what is already built:
a local virtual environment with the pinned Python dependencies
(requirements.lock), the browser runtime from the npm registry (`npm ci`
against package-lock.json), copied into the ignored static/vendor/, the
pure-Python libraries plus our own app/ package zipped for PyScript's [files],
a Pyodide memory snapshot made in Node from those zips, and the site in
build/site/: index.html and pyscript.toml naming content-hashed, precompressed
assets (tools/site.py). The server serves build/site; `dist` copies it.
Nothing is ever fetched from a CDN at run time.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENDOR = ROOT / "static" / "vendor"
SITE = ROOT / "build" / "site"
NODE_MODULES = ROOT / "node_modules"
SNAPSHOT_MAKER = ROOT / "tools" / "snapshot.mjs"
CONFIG_TEMPLATE = ROOT / "static" / "attache-config.example.json"
PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
# Pure-Python packages the page imports, taken from the pinned venv. markupsafe
# ships a C speed-up that cannot load in Pyodide; without it markupsafe falls
# back to its pure-Python implementation.
BROWSER_PACKAGES = ("jinja2", "markupsafe")
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def run(cmd: list[str], **kwargs) -> None:
    subprocess.run(cmd, check=True, **kwargs)


def digest(*paths: Path) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def up_to_date(stamp: Path, key: str) -> bool:
    return stamp.exists() and stamp.read_text() == key


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    """Create .venv and install requirements.lock once (re-done when the lock changes)."""
    lock = ROOT / "requirements.lock"
    stamp = VENV / ".attache-lock"
    key = digest(lock)
    if venv_python().exists() and up_to_date(stamp, key):
        return
    if not venv_python().exists():
        log("creating the virtual environment .venv")
        run([sys.executable, "-m", "venv", str(VENV)])
    log("installing pinned Python dependencies (requirements.lock)")
    run([str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(lock)])
    stamp.write_text(key)


def reexec_in_venv() -> None:
    """Continue under the venv's interpreter so the pinned packages are importable."""
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(venv_python()), [str(venv_python()), str(ROOT / "build.py"), *sys.argv[1:]])


def ensure_node_modules() -> None:
    lock = ROOT / "package-lock.json"
    stamp = NODE_MODULES / ".attache-lock"
    key = digest(lock)
    if up_to_date(stamp, key):
        return
    if not shutil.which("npm"):
        sys.exit("build.py: npm is needed to fetch the browser runtime (install Node.js 20 and npm)")
    log("fetching the browser runtime from the npm registry (npm ci)")
    run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT)
    stamp.write_text(key)


def copy_runtime() -> None:
    """Copy PyScript's dist and the five Pyodide files into static/vendor/."""
    stamp = VENDOR / ".attache-runtime"
    key = digest(ROOT / "package-lock.json")
    if up_to_date(stamp, key):
        return
    log("copying PyScript and Pyodide into static/vendor/")
    shutil.rmtree(VENDOR, ignore_errors=True)
    pyscript_dist = NODE_MODULES / "@pyscript" / "core" / "dist"
    shutil.copytree(pyscript_dist, VENDOR / "pyscript", ignore=shutil.ignore_patterns("*.map"))
    (VENDOR / "pyodide").mkdir(parents=True)
    for name in PYODIDE_FILES:
        shutil.copy2(NODE_MODULES / "pyodide" / name, VENDOR / "pyodide" / name)
    stamp.write_text(key)


def zip_tree(archive: Path, sources: list[tuple[Path, str]], skip_suffixes: tuple[str, ...] = ()) -> None:
    """Write a deterministic zip of (directory, name inside the zip) pairs. Stored, not deflated:
    the page's loader then copies the files out without inflating each, and the whole zip
    travels Brotli-compressed (tools/site.py), smaller than per-file deflate."""
    tmp = archive.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for directory, arcname in sources:
            for path in sorted(directory.rglob("*")):
                if path.is_dir() or "__pycache__" in path.parts or path.suffix in skip_suffixes:
                    continue
                info = zipfile.ZipInfo(f"{arcname}/{path.relative_to(directory).as_posix()}", (2020, 1, 1, 0, 0, 0))
                zf.writestr(info, path.read_bytes())
    tmp.replace(archive)


def is_stored(archive: Path) -> bool:
    with zipfile.ZipFile(archive) as zf:
        return all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())


def pack_python() -> None:
    """Zip the browser's pure-Python libraries and our app/ package for [files]."""
    site = Path(subprocess.check_output(
        [str(venv_python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
    ).strip())
    libs = VENDOR / "pylibs.zip"
    if not libs.exists() or not is_stored(libs):      # one an earlier build deflated: pack it again
        log("packing jinja2 and markupsafe for the browser")
        zip_tree(libs, [(site / name, name) for name in BROWSER_PACKAGES], skip_suffixes=(".so", ".pyi", ".c"))
    zip_tree(VENDOR / "app.zip", [(ROOT / "app", "app")], skip_suffixes=(".pyc",))


def pyodide_version() -> str:
    return json.loads((NODE_MODULES / "pyodide" / "package.json").read_text())["version"]


def snapshot_key(version: str, inputs: list[Path]) -> str:
    """Names what a snapshot is made of: the Pyodide version and the bytes of its inputs
    (the runtime files, the zipped libraries and app, the maker script)."""
    sha = hashlib.sha256(f"pyodide {version}\n".encode())
    for path in inputs:
        sha.update(f"{path.name} {digest(path)}\n".encode())
    return sha.hexdigest()[:16]


def make_snapshot(pyodide_dir: Path, key: str, snapshot: Path, pycache: Path, zips: list[Path]) -> None:
    if not shutil.which("node"):
        sys.exit("build.py: Node.js is needed to make the Pyodide memory snapshot (install Node.js 20)")
    run(["node", str(SNAPSHOT_MAKER), str(pyodide_dir), str(pyodide_dir.parent / "pyscript"), key, str(snapshot),
         str(pycache), *map(str, zips)], cwd=ROOT)


def ensure_snapshot(vendor: Path = VENDOR, version: str | None = None, maker=make_snapshot) -> tuple[Path, str]:
    """static/vendor/snapshot.bin (and pycache.zip: app/ and PyScript's own Python package
    compiled by the same Python), made again whenever their key (inputs) changes."""
    zips = [vendor / "pylibs.zip", vendor / "app.zip"]
    runtime = [vendor / "pyodide" / name for name in PYODIDE_FILES]
    pyscript = sorted((vendor / "pyscript").glob("core-*.js"))   # holds PyScript's Python package
    key = snapshot_key(version or pyodide_version(), [*runtime, *pyscript, *zips, SNAPSHOT_MAKER])
    snapshot, pycache, stamp = vendor / "snapshot.bin", vendor / "pycache.zip", vendor / "snapshot.key"
    if not (snapshot.exists() and pycache.exists() and up_to_date(stamp, key)):
        log("making the Pyodide memory snapshot (Node)")
        stamp.unlink(missing_ok=True)
        maker(vendor / "pyodide", key, snapshot, pycache, zips)
        stamp.write_text(key)
    return snapshot, key


def build_site() -> None:
    from tools.site import assemble
    snapshot, key = ensure_snapshot()
    assemble(ROOT, SITE, snapshot, key)


def find_browser() -> str:
    """Debian's chromium (installed with apt-get when root), else a Chrome on PATH."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing Debian's chromium for the browser tests (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], env=env)
        found = shutil.which("chromium")
        if found:
            return found
    sys.exit("build.py: the tests need Chromium or Chrome; install Debian's 'chromium' package")


def setup() -> None:
    ensure_venv()
    reexec_in_venv()
    with setup_lock():          # two `serve`s started at once (a cluster on one machine) build one at a time
        ensure_node_modules()
        copy_runtime()
        pack_python()
        build_site()


@contextlib.contextmanager
def setup_lock() -> Iterator[None]:
    lock = ROOT / "build" / ".setup.lock"
    lock.parent.mkdir(exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def option(args: list[str], name: str, default: str) -> str:
    if name in args:
        index = args.index(name)
        if index + 1 >= len(args):
            sys.exit(f"build.py: {name} needs a value")
        return args[index + 1]
    return default


def serve(args: list[str]) -> NoReturn:
    host = option(args, "--host", "127.0.0.1")
    port = option(args, "--port", "8000")
    # Paths are the user's (relative to where they ran build.py); the server runs in ROOT.
    cmd = [sys.executable, "-m", "server", "--host", host, "--port", port,
           "--data", str(Path(option(args, "--data", str(ROOT / "data"))).resolve())]
    if "--config" in args:
        cmd += ["--config", str(Path(option(args, "--config", "")).resolve())]
    # Become the server (same process): a SIGTERM or Ctrl-C sent to `build.py serve`
    # then stops the server itself and frees the port, with no orphan left behind.
    sys.stdout.flush()
    os.chdir(ROOT)
    os.execv(sys.executable, cmd)


# `build.py test` with no arguments: every test, then the browser tests again against a
# production-mode server (tokens from a portal, as `build.py token` mints them).
PRODUCTION_PASS = ["tests/e2e", "--mode", "production"]


# Before the full run: the linter and the type checker (settings in pyproject.toml).
CHECKS = (["ruff", "check"], ["mypy"])


def check() -> int:
    """Run ruff and mypy from the venv; the first that fails stops the test run."""
    for cmd in CHECKS:
        log(f"{' '.join(cmd)} (pyproject.toml)")
        code = subprocess.call([sys.executable, "-m", *cmd], cwd=ROOT)
        if code != 0:
            return code
    return 0


def test(args: list[str]) -> int:
    if not args and (code := check()) != 0:
        return code
    os.environ["ATTACHE_CHROMIUM"] = find_browser()
    code = subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT)
    if args or code != 0:
        return code
    log("the browser tests again, in production mode")
    return subprocess.call([sys.executable, "-m", "pytest", *PRODUCTION_PASS], cwd=ROOT)


def bench(args: list[str]) -> int:
    os.environ["ATTACHE_CHROMIUM"] = find_browser()
    return subprocess.call([sys.executable, str(ROOT / "bench" / "run.py"), *args], cwd=ROOT)


def token(args: list[str]) -> int:
    """Print one signed access token for a production config (see docs/deploying.md)."""
    from server.auth.tokens import main as mint_main  # needs the venv's PyJWT; paths stay the caller's
    return mint_main(args)


def write_dist(out: Path, site: Path = SITE) -> None:
    """Copy the built site to `out` for any static host: index.html, pyscript.toml,
    attache.js (<attache-canvas> for portals), assets/ (hashed, with .br/.gz siblings)
    and the page config template. Other files
    in `out` (the portal's own attache-config.json) are left alone."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "assets.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(site / "assets", tmp)
    shutil.rmtree(out / "assets", ignore_errors=True)
    tmp.replace(out / "assets")
    for name in ("pyscript.toml", "attache.js", "index.html"):
        shutil.copy2(site / name, out / name)
    shutil.copy2(CONFIG_TEMPLATE, out / CONFIG_TEMPLATE.name)


def dist(args: list[str]) -> int:
    if len(args) != 1 or args[0].startswith("-"):
        sys.exit("usage: python3 build.py dist OUT")
    out = Path(args[0]).resolve()
    write_dist(out)
    log(f"static bundle written to {out}: serve it from any static host, with an attache-config.json "
        f"beside index.html (see {CONFIG_TEMPLATE.name} and docs/deploying.md, 'The page as static files')")
    return 0


COMMANDS = {"serve": serve, "test": test, "bench": bench, "dist": dist, "setup": lambda args: 0, "token": token}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__.strip())
        return 2
    if sys.argv[1] == "token":           # needs only the Python dependencies
        ensure_venv()
        reexec_in_venv()
    else:
        setup()
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
