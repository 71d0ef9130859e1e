// Attache's Pyodide loader. PyScript's `interpreter` setting names this module
// instead of pyodide.mjs, and PyScript calls its loadPyodide with its own options.
//
// Python starts when this module is evaluated (index.html runs it as a module
// script right after static/early.mjs; attache.js imports it first), not when
// PyScript asks for it: PyScript first reads its config and opens IndexedDB, and
// Python's start no longer waits for that. loadPyodide hands PyScript the
// interpreter so started, with Python's output going to PyScript's handlers.
//
// The start restores the memory snapshot build.py made (Python with jinja2 and our
// pure modules already imported), fetched while the runtime downloads. A snapshot that is
// missing, unreadable or made for other inputs (another Pyodide build, other
// libraries or app code) is not used: Python then starts the normal, slower way,
// and the console says why.
//
// The zips of pyscript.toml's [files] (our libraries, app, .pyc) are unpacked here
// too, before PyScript gets the interpreter: they are stored (not deflated; Brotli
// on the wire), so their files are copied straight into Pyodide's file system,
// where PyScript ran Python's zipfile over them. build.py fills in the names below
// and moves [files] here.
import { loadPyodide as load, version } from "@PYODIDE@/pyodide.mjs";

export { version };

const INDEX_URL = new URL("@PYODIDE@/", import.meta.url).href;
const SNAPSHOT_URL = new URL("@SNAPSHOT@", import.meta.url).href;
const SNAPSHOT_KEY = "@KEY@";
// [archive URL (beside this module), folder under Python's home directory ("" or "dir/")]
const FILES = JSON.parse('@FILES@');
const KEY_QUERY = "import sys; getattr(sys.modules.get('_attache_snapshot'), 'key', '')";

class Unusable extends Error {}

// PyScript's output handlers, once it asks for the interpreter; the console until then
const output = { stdout: (text) => console.log(text), stderr: (text) => console.error(text) };
const io = { stdout: (text) => output.stdout(text), stderr: (text) => output.stderr(text) };

// fetched at once (the page preloads them), unpacked once Python is there
const archives = FILES.map(([name, folder]) => {
  const url = new URL(name, import.meta.url).href;
  const bytes = fetch(url).then((response) => {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.arrayBuffer();
  });
  bytes.catch(() => {});     // reported when unpacked
  return { url, folder, bytes };
});

async function zipEntries(buffer) {
  // [name, bytes] of every file in a zip (stored or deflated; no zip64, no encryption)
  const view = new DataView(buffer);
  let end = buffer.byteLength - 22;
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) throw new Error("not a zip archive");
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const names = new TextDecoder();
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error("a damaged zip directory");
    const [method, size] = [view.getUint16(at + 10, true), view.getUint32(at + 20, true)];
    const [nameLength, extra, comment] = [28, 30, 32].map((offset) => view.getUint16(at + offset, true));
    const local = view.getUint32(at + 42, true);
    const name = names.decode(new Uint8Array(buffer, at + 46, nameLength));
    at += 46 + nameLength + extra + comment;
    if (name.endsWith("/")) continue;
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const packed = new Uint8Array(buffer, start, size);
    if (method === 0) entries.push([name, Promise.resolve(packed)]);
    else if (method === 8) {
      const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
      entries.push([name, new Response(stream).arrayBuffer().then((data) => new Uint8Array(data))]);
    } else throw new Error(`${name} is packed in a way we cannot read (method ${method})`);
  }
  return Promise.all(entries.map(async ([name, data]) => [name, await data]));
}

// Between the long steps of the start, the page takes input (a file picked now is shown at once)
const pause = () => globalThis.scheduler?.yield?.() ?? new Promise((resume) => setTimeout(resume, 0));

async function unpack(py) {
  // what PyScript's [files] did: every archive into its folder under the home directory
  const home = py.FS.cwd();
  await Promise.all(archives.map(async ({ url, folder, bytes }) => {
    let entries;
    try {
      entries = await zipEntries(await bytes);
    } catch (error) {
      const problem = `Attache cannot unpack ${url}: ${error.message || error}. Reload the page; if it stays, rebuild the site.`;
      console.error(problem);      // PyScript does not report an interpreter that fails to load
      throw new Error(problem);
    }
    await pause();
    for (const [name, data] of entries) {
      const path = `${home}/${folder}${name}`;
      py.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")));
      py.FS.writeFile(path, data);
    }
  }));
  return py;
}

async function fetchSnapshot() {
  const response = await fetch(SNAPSHOT_URL);
  if (!response.ok) throw new Unusable(`no snapshot at ${SNAPSHOT_URL} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

function mark(name) {
  performance.mark(`attache:${name}`);
}

function started(how) {
  // read by the tests and the benchmarks: which way Python started, and when
  const root = globalThis.document?.documentElement;
  if (root) root.dataset.pythonStart = how;
  mark(`python-${how}`);
}

async function restore(settings) {
  const py = await load({ ...settings, _loadSnapshot: fetchSnapshot() });
  const key = py.runPython(KEY_QUERY);
  if (key !== SNAPSHOT_KEY) {
    throw new Unusable(`the snapshot was made for other inputs (key ${key || "none"}, expected ${SNAPSHOT_KEY})`);
  }
  return py;
}

async function start() {
  mark("python-boot");
  const begun = performance.now();
  const settings = { indexURL: INDEX_URL, ...io };
  let py, how;
  try {
    py = await restore(settings);
    how = "snapshot";
  } catch (error) {
    const why = error instanceof Unusable ? error.message : `the snapshot cannot be used: ${error.message || error}`;
    console.warn(`Attache: ${why.trim()}; starting Python without it (slower).`);
    py = await load(settings);
    how = "fallback";
  }
  await pause();
  await unpack(py);
  started(how);
  if (how === "snapshot") {
    console.info(`Attache: Python restored from its memory snapshot in ${Math.round(performance.now() - begun)} ms.`);
  }
  return py;
}

const python = start();
python.catch(() => {});      // reported to PyScript, which asks for it

/** PyScript's: the interpreter started above, [files] unpacked. Its options name the output
 * handlers; the page has no `packages`, so nothing else applies. */
export async function loadPyodide(options = {}) {
  mark("python-asked");
  if (options.stdout) output.stdout = options.stdout;
  if (options.stderr) output.stderr = options.stderr;
  return python;
}
