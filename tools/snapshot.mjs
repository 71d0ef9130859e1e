// Make a Pyodide memory snapshot at build time (run by build.py under Node):
//
//   node tools/snapshot.mjs PYODIDE_DIR PYSCRIPT_DIR KEY SNAPSHOT_OUT PYC_OUT ZIP...
//
// Why: starting Pyodide in the page means compiling the interpreter's state from
// scratch and importing jinja2 and our pure modules from .py source (about 2 s on
// a 2-core machine). Restoring a heap image made here skips all of that.
//
// The snapshot holds only the wasm heap, not the file system: the page still
// unpacks the same zips (pyscript.toml's [files]) at the same place, so modules the
// snapshot imported find their files (jinja2 templates) where they were. Only
// pure Python may be imported here: anything that touched `js` would keep
// references to Node's objects. KEY names the inputs (Pyodide build, zips); the
// page's loader compares it with the key it expects and starts without the
// snapshot when they differ.
//
// PYC_OUT is a zip of app/**/__pycache__ compiled by this same Python, for the
// modules the snapshot cannot hold (app.browser, app.main), and of
// pyscript/__pycache__: PyScript writes its own Python package (its sources are
// in its core module, PYSCRIPT_DIR) into the file system and imports it at every
// start, which compiled ~30 kB of source each time. Unchecked-hash pycs, because
// the sources get new mtimes in the page; they cannot change during a page's life.
import { readFileSync, readdirSync, writeFileSync, renameSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [pyodideDir, pyscriptDir, key, out, pycOut, ...zips] = process.argv.slice(2);
if (!pyodideDir || !pyscriptDir || !key || !out || !pycOut || zips.length === 0) {
  console.error("usage: node tools/snapshot.mjs PYODIDE_DIR PYSCRIPT_DIR KEY SNAPSHOT_OUT PYC_OUT ZIP...");
  process.exit(2);
}

// PyScript's Python package, as its core module holds it: `{pyscript:{"__init__.py":"...",...}}`
// in a JS object literal, which it writes to ./pyscript/ before the page's first script.
const PACKAGE_MARK = "{pyscript:{";

function literalEnd(text, open) {
  // the index of the brace closing the one at `open`, skipping quoted strings
  let depth = 0;
  let quote = null;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

function pyscriptPackage(dir) {
  // {"pyscript/x.py": source}, or {} (then PyScript compiles its package in the page, as before)
  for (const name of readdirSync(dir).filter((n) => /^core-.*\.js$/.test(n))) {
    const text = readFileSync(path.join(dir, name), "utf8");
    const open = text.indexOf(PACKAGE_MARK);
    const end = open < 0 ? -1 : literalEnd(text, open);
    if (end < 0) continue;
    const files = {};
    const walk = (prefix, node) => {
      for (const [entry, value] of Object.entries(node)) {
        if (typeof value === "string") files[prefix + entry] = value;
        else walk(`${prefix}${entry}/`, value);
      }
    };
    walk("", Function(`"use strict"; return (${text.slice(open, end + 1)});`)());   // our vendored file, at build time
    return files;
  }
  console.warn(`snapshot: PyScript's Python package not found in ${dir}; it is compiled in the page`);
  return {};
}
const indexURL = path.resolve(pyodideDir) + "/";
const { loadPyodide } = await import(pathToFileURL(indexURL + "pyodide.mjs").href);
// The snapshot is a public asset: nothing of this machine may go into it. Without
// _sysExecutable, Emscripten takes Node's argv[1] (this script's absolute path) for
// sys.executable and the `_` environment variable; the page's own default instead.
const py = await loadPyodide({ indexURL, _makeSnapshot: true, _sysExecutable: "./this.program" });

// Where [files] "./x.zip" = "./*" puts them in the page (our loader unpacks them there).
const HOME = "/home/pyodide";
for (const zip of zips) {
  py.unpackArchive(new Uint8Array(readFileSync(zip)), "zip", { extractDir: HOME });
}

py.globals.set("SNAPSHOT_KEY", key);
py.runPython(String.raw`
import importlib, os, pkgutil, sys, types

os.chdir("/home/pyodide")
# stdlib that the page's shell and PyScript's own package import at start
import asyncio, json, uuid, urllib.parse, dataclasses, datetime, html, html.entities
import jinja2, markupsafe
import app

# Every module of app/ that runs outside the browser: not app.main and not
# app.browser (the shell, which imports js and pyscript at import time).
SHELL = ("app.main", "app.browser")


def pure_modules(package):
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name in SHELL:
            continue
        module = importlib.import_module(info.name)
        yield info.name
        if info.ispkg:
            yield from pure_modules(module)


imported = list(pure_modules(app))
if "js" in sys.modules:
    raise RuntimeError("a module imported for the snapshot imports js; only pure modules may be in it")

# Compile every template now. In the page the unpacked templates get new mtimes,
# and jinja2 would compile them again; they cannot change during a page's life.
for module in list(sys.modules.values()):
    if getattr(module, "__name__", "").startswith("app."):
        for value in list(vars(module).values()):
            if isinstance(value, jinja2.Environment):
                value.auto_reload = False
                for name in value.list_templates():
                    value.get_template(name)
render = sys.modules.get("app.render")
if render is not None and hasattr(render, "messages_html"):
    render.messages_html([], "agent", {})

marker = types.ModuleType("_attache_snapshot")
marker.key = SNAPSHOT_KEY
sys.modules["_attache_snapshot"] = marker
del SNAPSHOT_KEY
print(f"snapshot: {len(imported)} app modules, {len(sys.modules)} modules in all")
`);
const image = py.makeMemorySnapshot();
writeFileSync(out + ".tmp", image);
renameSync(out + ".tmp", out);
console.log(`snapshot: ${(image.length / 1048576).toFixed(1)} MiB written to ${out}`);

// After the snapshot, so the compiler's modules and PyScript's package are not in it.
py.globals.set("PYSCRIPT_FILES", py.toPy(pyscriptPackage(pyscriptDir)));
py.runPython(String.raw`
import compileall, py_compile, zipfile
from pathlib import Path

for name, source in PYSCRIPT_FILES.items():   # where PyScript writes them in the page
    target = Path("/home/pyodide", name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source, encoding="utf-8")
for package in ("app", "pyscript"):
    if Path("/home/pyodide", package).is_dir():
        compileall.compile_dir(f"/home/pyodide/{package}", quiet=1,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
with zipfile.ZipFile("/tmp/pycache.zip", "w", zipfile.ZIP_STORED) as zf:   # stored: see build.py zip_tree
    for path in sorted([*Path("/home/pyodide").glob("app/**/__pycache__/*.pyc"),
                        *Path("/home/pyodide").glob("pyscript/**/__pycache__/*.pyc")]):
        info = zipfile.ZipInfo(path.relative_to("/home/pyodide").as_posix(), (2020, 1, 1, 0, 0, 0))
        zf.writestr(info, path.read_bytes())
`);
writeFileSync(pycOut + ".tmp", py.FS.readFile("/tmp/pycache.zip"));
renameSync(pycOut + ".tmp", pycOut);
