"""build.py and tools/site.py: the snapshot is made again exactly when its inputs
change, and the site names content-hashed, precompressed assets."""
from __future__ import annotations

import gzip
import json
import re
import zipfile
import shutil
from pathlib import Path

import brotli
import pytest

import build
from tools import site as sitelib

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- snapshot


@pytest.fixture
def vendor(tmp_path):
    vendor = tmp_path / "vendor"
    (vendor / "pyodide").mkdir(parents=True)
    for name in build.PYODIDE_FILES:
        (vendor / "pyodide" / name).write_bytes(f"runtime {name}".encode())
    (vendor / "pylibs.zip").write_bytes(b"jinja2 and markupsafe")
    (vendor / "app.zip").write_bytes(b"our app, version 1")
    (vendor / "pyscript").mkdir()
    (vendor / "pyscript" / "core-abc.js").write_text('wo(".",{pyscript:{"__init__.py":"x = 1"}})')
    return vendor


class Maker:
    """Stands in for Node: records the calls, writes the two outputs."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, pyodide_dir, key, snapshot, pycache, zips) -> None:
        self.calls.append(key)
        assert [z.name for z in zips] == ["pylibs.zip", "app.zip"]
        snapshot.write_bytes(b"heap for " + key.encode())
        pycache.write_bytes(b"pycs for " + key.encode())


def test_the_snapshot_is_made_once_for_the_same_inputs(vendor):
    maker = Maker()
    first = build.ensure_snapshot(vendor, "314.0.2", maker)
    again = build.ensure_snapshot(vendor, "314.0.2", maker)
    assert first == again and len(maker.calls) == 1
    assert (vendor / "snapshot.bin").read_bytes() == b"heap for " + first[1].encode()


@pytest.mark.parametrize("change", [
    lambda v: (v / "app.zip").write_bytes(b"our app, version 2"),
    lambda v: (v / "pylibs.zip").write_bytes(b"jinja2 3.2"),
    lambda v: (v / "pyodide" / "pyodide.asm.wasm").write_bytes(b"another build"),
    lambda v: (v / "pyodide" / "python_stdlib.zip").write_bytes(b"another stdlib"),
    lambda v: (v / "snapshot.bin").unlink(),
    lambda v: (v / "pycache.zip").unlink(),
    lambda v: (v / "pyscript" / "core-abc.js").write_bytes(b"another PyScript"),
])
def test_the_snapshot_is_made_again_when_an_input_changes(vendor, change):
    maker = Maker()
    _, key = build.ensure_snapshot(vendor, "314.0.2", maker)
    change(vendor)
    _, new_key = build.ensure_snapshot(vendor, "314.0.2", maker)
    assert len(maker.calls) == 2
    assert (vendor / "snapshot.bin").read_bytes() == b"heap for " + new_key.encode()


def test_the_key_names_the_pyodide_version_and_every_input(vendor):
    inputs = [vendor / "app.zip", vendor / "pylibs.zip"]
    assert build.snapshot_key("314.0.2", inputs) == build.snapshot_key("314.0.2", inputs)
    assert build.snapshot_key("314.0.2", inputs) != build.snapshot_key("314.0.3", inputs)
    before = build.snapshot_key("314.0.2", inputs)
    (vendor / "app.zip").write_bytes(b"our app, one byte more!")
    assert build.snapshot_key("314.0.2", inputs) != before


def test_a_failed_snapshot_is_not_taken_for_done(vendor):
    def broken(*args):
        (vendor / "snapshot.bin").write_bytes(b"half")
        raise RuntimeError("node crashed")

    with pytest.raises(RuntimeError):
        build.ensure_snapshot(vendor, "314.0.2", broken)
    maker = Maker()
    build.ensure_snapshot(vendor, "314.0.2", maker)
    assert len(maker.calls) == 1


# ---------------------------------------------------------------- site


@pytest.fixture
def source(tmp_path):
    """A small repository: the two source pages and the files they name."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "static", src / "static", ignore=shutil.ignore_patterns("vendor"))
    (src / "static" / "attache.css").write_text("body { color: #121c2d; }\n" * 200)
    pyodide = src / "static" / "vendor" / "pyodide"
    pyodide.mkdir(parents=True)
    for name in build.PYODIDE_FILES:
        (pyodide / name).write_bytes(f"{name} ".encode() * 500)
    (src / "static" / "vendor" / "pyscript").mkdir()
    (src / "static" / "vendor" / "pyscript" / "core.js").write_text('import "./core-abc.js";\n')
    (src / "static" / "vendor" / "pyscript" / "core-abc.js").write_text("export const x = 1;\n" * 100)
    for name in ("pylibs.zip", "app.zip", "pycache.zip"):
        (src / "static" / "vendor" / name).write_bytes(name.encode() * 10)
    shutil.copy2(ROOT / "index.html", src / "index.html")
    shutil.copy2(ROOT / "pyscript.toml", src / "pyscript.toml")
    snapshot = tmp_path / "snapshot.bin"
    snapshot.write_bytes(bytes(200_000) + b"heap")
    return src, snapshot


def assemble(src: Path, snapshot: Path, out: Path, key: str = "k" * 16) -> sitelib.Site:
    return sitelib.assemble(src, out, snapshot, key)


def referenced(text: str) -> list[str]:
    return re.findall(r"""["']\./(assets/[^"'\s]+)["']""", text)


def test_every_reference_names_a_hashed_asset_that_exists(source, tmp_path):
    src, snapshot = source
    out = tmp_path / "site"
    assemble(src, snapshot, out)
    html, toml = (out / "index.html").read_text(), (out / "pyscript.toml").read_text()
    refs = referenced(html) + referenced(toml)
    assert refs and all((out / ref).is_file() for ref in refs)
    assert "./static/" not in html + toml and "./app/" not in html + toml
    css = next(r for r in refs if r.endswith(".css"))
    assert re.fullmatch(r"assets/attache\.[0-9a-f]{12}\.css", css)
    assert re.search(r'data-config="\./attache-config\.json"', html)     # not an asset: left alone
    assert "[files]" not in toml.replace("# [files]", "")                 # the loader unpacks them


def test_the_interpreter_is_our_loader_naming_the_snapshot_and_its_key(source, tmp_path):
    src, snapshot = source
    out = tmp_path / "site"
    assemble(src, snapshot, out, key="0123456789abcdef")
    toml = (out / "pyscript.toml").read_text()
    loader_rel = re.search(r'interpreter = "\./(assets/[^"]+)"', toml).group(1)
    loader = (out / loader_rel).read_text()
    assert 'SNAPSHOT_KEY = "0123456789abcdef"' in loader
    pyodide_dir = re.search(r'from "\./(pyodide-[0-9a-f]{12})/pyodide\.mjs"', loader).group(1)
    assert (out / "assets" / pyodide_dir / "pyodide.asm.wasm").is_file()
    snapshot_name = re.search(r'new URL\("\./(snapshot\.[0-9a-f]{12}\.bin)"', loader).group(1)
    assert (out / "assets" / snapshot_name).read_bytes() == snapshot.read_bytes()
    assert "@" not in re.sub(r"//.*", "", loader)        # every placeholder filled in
    archives = json.loads(re.search(r"const FILES = JSON.parse\('(.*)'\);", loader).group(1))
    assert [re.sub(r"\.[0-9a-f]{12}\.", ".", name) for name, _ in archives] == ["./pylibs.zip", "./app.zip", "./pycache.zip"]
    assert all((out / "assets" / name).is_file() and folder == "" for name, folder in archives)
    html = (out / "index.html").read_text()               # a module script of the page: Python starts at once
    assert html.index(f'<script type="module" src="./{loader_rel}">') < html.index("pyscript-")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["interpreter"] == loader_rel and manifest["snapshot_key"] == "0123456789abcdef"


def test_the_big_downloads_are_preloaded(source, tmp_path):
    src, snapshot = source
    out = tmp_path / "site"
    assemble(src, snapshot, out)
    html = (out / "index.html").read_text()
    preloaded = re.findall(r'<link rel="(?:module)?preload" href="\./([^"]+)"', html)
    assert any(p.endswith("pyodide.asm.wasm") for p in preloaded)
    assert any(re.search(r"snapshot\.[0-9a-f]{12}\.bin$", p) for p in preloaded)
    assert all((out / p).is_file() for p in preloaded)
    assert sitelib.PRELOAD_MARK not in html


def test_compressed_siblings_hold_the_same_bytes(source, tmp_path):
    src, snapshot = source
    out = tmp_path / "site"
    assemble(src, snapshot, out)
    siblings = list((out / "assets").rglob("*.br"))
    assert any(p.name.startswith("snapshot.") for p in siblings)
    for br in siblings:
        original = br.with_suffix("").read_bytes()
        assert brotli.decompress(br.read_bytes()) == original
        gz = br.with_suffix(".gz")
        if gz.exists():
            assert gzip.decompress(gz.read_bytes()) == original
    tiny = next((out / "assets").rglob("core.js"))          # under 1 kB: not worth it
    assert not tiny.with_name("core.js.br").exists()


def test_a_changed_file_gets_a_new_name_and_the_old_one_goes(source, tmp_path):
    src, snapshot = source
    out = tmp_path / "site"
    assemble(src, snapshot, out)
    before = set(referenced((out / "index.html").read_text()))
    (src / "static" / "attache.css").write_text("body { color: red; }\n" * 200)
    assemble(src, snapshot, out)
    after = set(referenced((out / "index.html").read_text()))
    changed = before ^ after
    assert {Path(p).suffix for p in changed} == {".css"} and len(changed) == 2
    old_css = (before - after).pop()
    assert not (out / old_css).exists() and not (out / (old_css + ".br")).exists()
    assert all((out / p).exists() for p in after)


def test_the_same_sources_give_the_same_site(source, tmp_path):
    src, snapshot = source
    one, two = tmp_path / "one", tmp_path / "two"
    assemble(src, snapshot, one)
    assemble(src, snapshot, two)
    for name in ("index.html", "pyscript.toml"):
        assert (one / name).read_text() == (two / name).read_text()


def test_dist_writes_a_static_bundle_and_keeps_the_portal_config(source, tmp_path):
    src, snapshot = source
    built = tmp_path / "site"
    assemble(src, snapshot, built)
    out = tmp_path / "out"
    out.mkdir()
    (out / "attache-config.json").write_text('{"mine": true}')
    (out / "assets").mkdir()
    (out / "assets" / "stale.js").write_text("old")
    build.write_dist(out, built)
    assert (out / "attache-config.json").read_text() == '{"mine": true}'
    assert not (out / "assets" / "stale.js").exists()
    assert json.loads((out / "attache-config.example.json").read_text())["backend"]["adapter"] == "reference"
    for name in ("index.html", "pyscript.toml", "attache.js"):
        for ref in referenced((out / name).read_text()):
            assert (out / ref).is_file()


def test_the_built_site_holds_nothing_of_the_build_machine():
    """The snapshot is a public asset: Emscripten put Node's argv[1] (this checkout's absolute path)
    into sys.executable and the `_` environment variable of the heap it copies."""
    site = ROOT / "build" / "site"
    if not (site / "manifest.json").exists():
        pytest.skip("no site built here: run `python3 build.py setup`")
    manifest = json.loads((site / "manifest.json").read_text())
    assert manifest["snapshot"], "the site has no snapshot to check"
    here = str(ROOT).encode()
    leaks = [p.relative_to(site).as_posix() for p in site.rglob("*")
             if p.is_file() and p.suffix not in (".br", ".gz") and here in p.read_bytes()]
    assert leaks == []


def test_files_pyscript_cannot_leave_to_the_loader_stay_in_pyscript_toml():
    toml = """interpreter = "./assets/x.mjs"

[files]
"./assets/app.0123456789ab.zip" = "./*"
"./assets/lib.0123456789ab.zip" = "./lib/*"
"""
    assert sitelib.archives_to_unpack(toml) == [("assets/app.0123456789ab.zip", ""), ("assets/lib.0123456789ab.zip", "lib/")]
    assert "[files]" not in sitelib.without_files(toml).replace("# [files]", "")
    assert 'interpreter = "./assets/x.mjs"' in sitelib.without_files(toml)
    assert sitelib.archives_to_unpack(toml + '"./assets/data.json" = "./data.json"\n') is None
    assert sitelib.archives_to_unpack('interpreter = "x"\n') == []


def test_the_zips_are_stored_for_the_loader_and_travel_compressed(tmp_path):
    """The loader copies files out of stored zips without inflating each; HTTP compresses the whole."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("x = 1\n" * 2000)
    archive = tmp_path / "out.zip"
    build.zip_tree(archive, [(package, "pkg")])
    with zipfile.ZipFile(archive) as zf:
        assert [(i.filename, i.compress_type) for i in zf.infolist()] == [("pkg/mod.py", zipfile.ZIP_STORED)]
    assert sitelib.compress(archive) == [archive.with_name("out.zip.br"), archive.with_name("out.zip.gz")]
    assert build.is_stored(archive)
    deflated = tmp_path / "old.zip"             # what an earlier build wrote: packed again
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/mod.py", "x = 1\n")
    assert not build.is_stored(deflated)
