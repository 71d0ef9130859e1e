"""Assemble the static site: index.html and pyscript.toml plus content-hashed assets.

index.html and pyscript.toml at the repository root are the sources. They name
files of the repository (`./static/attache.css`, `./static/vendor/app.zip`,
`./app/main.py`...). `assemble` copies each named file to `assets/` under a name
that contains a hash of its content, rewrites the reference, and writes the two
pages. Why: an asset's URL then changes whenever its content does, so assets can
be cached for a year without revalidation (`immutable`), while the two small
pages revalidate and always name the current assets.

Files that load their siblings by fixed names (PyScript's chunks, Pyodide's
wasm, stdlib and lock file) are copied as a whole directory whose name carries
the hash of all its files. The `interpreter` named in pyscript.toml is replaced
by our loader module (static/pyodide-loader.mjs), which restores the memory
snapshot; index.html runs it as a module script of its own (Python starts at
once), and the zips of [files] move into it (it unpacks them; PyScript's table
is dropped). Compressible assets get precompressed `.br` and `.gz` siblings that
the server picks by Accept-Encoding; a plain static host serves the originals.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import brotli

from tools.canvas import ELEMENT_SOURCE, element_module, fill_canvas

# References resolved to assets: quoted "./path" under these folders of the source root.
ASSET_PREFIXES = ("static/", "app/")
# Directories shipped whole: their files import or fetch each other by name.
DIRECTORY_UNITS = ("static/vendor/pyscript", "static/vendor/pyodide")
LOADER_TEMPLATE = "static/pyodide-loader.mjs"
# Zips too: ours are stored (build.py zip_tree); a deflated one misses MIN_SAVING and is left alone.
COMPRESSIBLE = (".js", ".mjs", ".css", ".json", ".wasm", ".bin", ".py", ".svg", ".txt", ".html", ".zip")
MIN_COMPRESS_BYTES = 1024
MIN_SAVING = 0.05       # keep a compressed copy only if it is at least 5% smaller
BIG = 16 * 1024 * 1024  # above this, faster (slightly larger) compression: the snapshot changes with the app
_REFERENCE = re.compile(r"""(["'])\./([^"'\s*]+)\1""")
PRELOAD_MARK = "<!-- preload: filled in by build.py -->"
LOADER_MARK = "<!-- python: filled in by build.py (static/pyodide-loader.mjs starts Python at once) -->"
_STATIC_IMPORT = re.compile(r"""(?:\bfrom|\bimport)\s*["'](\./[^"']+\.js)["']""")
_DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*["'](\./[^"']+\.js)["']\s*\)""")
# PyScript chunks that PyScript imports dynamically on every start of a page like ours
# (its TOML parser and built-in plugins); the others (editor, terminal) only when used.
PYSCRIPT_START_CHUNKS = ("toml-", "error-", "donkey-", "deprecations-manager-", "py-editor-", "py-game-",
                         "py-terminal-")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def tree_hash(directory: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        sha.update(path.relative_to(directory).as_posix().encode() + b"\0")
        sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()[:12]


def hashed_name(name: str, data: bytes) -> str:
    """attache.css -> attache.3f2a1c9b0d4e.css"""
    stem, dot, suffix = name.rpartition(".")
    digest = content_hash(data)
    return f"{stem}.{digest}.{suffix}" if dot and stem else f"{name}.{digest}"


def compress(path: Path) -> list[Path]:
    """Write path.br and path.gz next to path when they are worth it; the files written."""
    size = path.stat().st_size
    if path.suffix not in COMPRESSIBLE or size < MIN_COMPRESS_BYTES:
        return []
    big = size > BIG
    data = None
    written = []
    packers = ((".br", lambda d: brotli.compress(d, quality=9, lgwin=24) if big else brotli.compress(d, quality=11)),
               (".gz", lambda d: gzip.compress(d, compresslevel=6 if big else 9, mtime=0)))
    for suffix, pack in packers:
        target = path.with_name(path.name + suffix)
        if not target.exists():   # names carry the content hash: an existing sibling is up to date
            data = path.read_bytes() if data is None else data
            packed = pack(data)
            if len(packed) > len(data) * (1 - MIN_SAVING):
                continue
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(packed)
            tmp.replace(target)
        written.append(target)
    return written


@dataclass
class Site:
    """What `assemble` wrote: logical path -> URL path inside the site."""
    root: Path
    assets: dict[str, str] = field(default_factory=dict)
    kept: set[Path] = field(default_factory=set)

    def put_file(self, logical: str, source: Path) -> str:
        data = source.read_bytes()
        rel = f"assets/{hashed_name(source.name, data)}"
        self._write(rel, data)
        self.assets[logical] = rel
        return rel

    def put_bytes(self, name: str, data: bytes) -> str:
        rel = f"assets/{hashed_name(name, data)}"
        self._write(rel, data)
        return rel

    def put_directory(self, logical: str, source: Path) -> str:
        rel = f"assets/{source.name}-{tree_hash(source)}"
        target = self.root / rel
        if not target.is_dir():
            tmp = target.with_name(target.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(source, tmp)
            tmp.replace(target)
        for path in sorted(p for p in target.rglob("*") if p.is_file() and p.suffix not in (".br", ".gz")):
            self.kept.update([path, *compress(path)])
        self.kept.add(target)
        self.assets[logical] = rel
        return rel

    def _write(self, rel: str, data: bytes) -> None:
        target = self.root / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        self.kept.update([target, *compress(target)])

    def prune(self) -> None:
        """Remove assets of earlier builds (their names no longer appear in the pages)."""
        assets = self.root / "assets"
        for path in sorted(assets.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path in self.kept or any(parent in self.kept for parent in path.parents):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def asset_for(site: Site, source_root: Path, rel: str) -> str | None:
    """The site path of the repository file `rel`, copying it (or its directory unit) once."""
    if not rel.startswith(ASSET_PREFIXES) or not (source_root / rel).is_file():
        return None
    for unit in DIRECTORY_UNITS:
        if rel.startswith(unit + "/"):
            base = site.assets.get(unit) or site.put_directory(unit, source_root / unit)
            return f"{base}/{rel[len(unit) + 1:]}"
    return site.assets.get(rel) or site.put_file(rel, source_root / rel)


def rewrite(text: str, replace) -> str:
    def sub(match: re.Match) -> str:
        quote, rel = match.group(1), match.group(2)
        new = replace(rel)
        return match.group(0) if new is None else f"{quote}./{new}{quote}"
    return _REFERENCE.sub(sub, text)


def loader_module(site: Site, source_root: Path, pyodide_dir: str, snapshot: Path, key: str,
                  files: list[tuple[str, str]]) -> tuple[str, str]:
    """Our loader (beside the assets), naming the Pyodide directory, the snapshot and the
    archives it unpacks ([site path, folder]): (loader, snapshot)."""
    snapshot_rel = site.put_bytes("snapshot.bin", snapshot.read_bytes())
    archives = [["./" + Path(rel).name, folder] for rel, folder in files]
    text = (source_root / LOADER_TEMPLATE).read_text()
    text = (text.replace("@PYODIDE@", "./" + Path(pyodide_dir).name)
                .replace("@SNAPSHOT@", "./" + Path(snapshot_rel).name)
                .replace("@KEY@", key)
                .replace("@FILES@", json.dumps(archives)))
    return site.put_bytes("attache-pyodide.mjs", text.encode()), snapshot_rel


def archives_to_unpack(toml: str) -> list[tuple[str, str]] | None:
    """pyscript.toml's [files] as [(site path of a zip, folder under the home directory)],
    or None when one entry is not a zip unpacked into a folder (PyScript then does them all)."""
    files = tomllib.loads(toml).get("files", {})
    archives = []
    for source, target in files.items():
        if not (source.startswith("./assets/") and source.endswith(".zip") and target.startswith("./")
                and target.endswith("*") and ".." not in target):
            return None
        archives.append((source[2:], target[2:-1]))
    return archives


def without_files(toml: str) -> str:
    """pyscript.toml without its [files] table (the loader unpacks them)."""
    kept, skipping = [], False
    for line in toml.splitlines(keepends=True):
        if line.strip().startswith("["):
            skipping = line.strip() == "[files]"
            if skipping:
                kept.append("# [files]: unpacked by our loader (static/pyodide-loader.mjs), see tools/site.py\n")
                continue
        if not skipping:
            kept.append(line)
    return "".join(kept)


def module_graph(entry: Path) -> list[Path]:
    """The modules `entry` needs at start: its static imports (recursively), and the
    dynamic imports of PYSCRIPT_START_CHUNKS that exist."""
    seen: list[Path] = []
    todo = [entry]
    while todo:
        path = todo.pop(0)
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        text = path.read_text(errors="replace")
        todo += [path.parent / rel for rel in _STATIC_IMPORT.findall(text)]
        todo += [path.parent / rel for rel in _DYNAMIC_IMPORT.findall(text)
                 if Path(rel).name.startswith(PYSCRIPT_START_CHUNKS)]
    return seen[1:]


def preload_tags(site: Site, extra: list[str], modules: Sequence[str] = ()) -> str:
    """<link> hints so that everything the start needs is fetched at once, while the
    HTML is parsed, rather than each file once the one before it has run."""
    pyodide = site.assets.get("static/vendor/pyodide")
    tags = [f'<link rel="modulepreload" href="./{rel}">' for rel in modules]
    if pyodide:
        tags.append(f'<link rel="modulepreload" href="./{pyodide}/pyodide.mjs">')
        tags.append(f'<link rel="modulepreload" href="./{pyodide}/pyodide.asm.mjs">')
        for name in ("pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"):
            tags.append(f'<link rel="preload" href="./{pyodide}/{name}" as="fetch" crossorigin>')
    for rel in extra:
        tags.append(f'<link rel="preload" href="./{rel}" as="fetch" crossorigin>')
    return "\n  ".join(tags)


def assemble(source_root: Path, site_root: Path, snapshot: Path | None, snapshot_key: str) -> Site:
    """Write site_root/{index.html, pyscript.toml, assets/...} and remove stale assets."""
    site = Site(site_root)
    (site_root / "assets").mkdir(parents=True, exist_ok=True)
    toml = rewrite((source_root / "pyscript.toml").read_text(), lambda rel: asset_for(site, source_root, rel))
    loader = snapshot_rel = None
    interpreter = site.assets.get("static/vendor/pyodide")
    archives = archives_to_unpack(toml)
    if snapshot is not None and interpreter and f'"./{interpreter}/pyodide.mjs"' in toml:
        loader, snapshot_rel = loader_module(site, source_root, interpreter, snapshot, snapshot_key, archives or [])
        toml = toml.replace(f'"./{interpreter}/pyodide.mjs"', f'"./{loader}"')
        if archives is not None:
            toml = without_files(toml)
    html = fill_canvas(rewrite((source_root / "index.html").read_text(), lambda rel: asset_for(site, source_root, rel)))
    fetched = ([snapshot_rel] if snapshot_rel else []) + [rel for logical, rel in site.assets.items()
                                                          if logical.endswith(".zip")]
    modules = []
    core = re.search(r'<script type="module" src="\./(assets/[^"]+\.js)"', html)
    if core:
        modules = [path.relative_to(site_root).as_posix() for path in module_graph(site_root / core.group(1))]
    fetched.insert(0, "pyscript.toml")     # PyScript fetches its config only once its own code has run
    html = html.replace(PRELOAD_MARK, preload_tags(site, fetched, modules))
    # the loader runs as a module script of its own, before PyScript's: Python starts at once
    html = html.replace(LOADER_MARK, f'<script type="module" src="./{loader}"></script>' if loader else "")
    element = element_module(rewrite((source_root / ELEMENT_SOURCE).read_text(),
                                     lambda rel: asset_for(site, source_root, rel)), toml)
    for name, text in (("index.html", html), ("pyscript.toml", toml), ("attache.js", element)):
        tmp = site_root / f"{name}.tmp"
        tmp.write_text(text)
        tmp.replace(site_root / name)
    manifest = {"assets": site.assets, "interpreter": loader, "snapshot": snapshot_rel,
                "snapshot_key": snapshot_key if loader else None}
    (site_root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    site.prune()
    return site
