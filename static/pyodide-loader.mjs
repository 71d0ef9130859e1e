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
// pure modules already imported). After a start from the network, a decoded copy
// is kept in the origin private file system (OPFS) once the page is idle: the HTTP
// cache holds the snapshot Brotli-encoded and decoding its 30 MiB costs more than
// reading the copy. A snapshot that is missing, unreadable or made for other
// inputs (another Pyodide build, other libraries or app code) is not used: Python
// then starts the normal, slower way, and the console says why. A kept copy that
// does not match (size, key) is deleted and the network's used. With a kept copy, the
// main-thread steps wait for the user's first input or a short head start (userFirst).
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
const SNAPSHOT_SIZE = Number("@SIZE@");
// [archive URL (beside this module), folder under Python's home directory ("" or "dir/")]
const FILES = JSON.parse('@FILES@');
const KEY_QUERY = "import sys; getattr(sys.modules.get('_attache_snapshot'), 'key', '')";
// the kept copy: OPFS folder, and the file named as the asset (its name carries its hash)
const KEPT_FOLDER = "attache-snapshot";
const KEPT_NAME = SNAPSHOT_URL.slice(SNAPSHOT_URL.lastIndexOf("/") + 1);

// our own page (not a portal's, which attache.js is in) tells the server a copy is kept:
// it then leaves the snapshot's preload out of the page (server/first_paint.py)
const OWN_PAGE = globalThis.location?.origin === new URL(SNAPSHOT_URL).origin;

class Unusable extends Error {}

function saySnapshotKept(kept) {
  if (!OWN_PAGE) return;
  document.cookie = kept ? `attache_snapshot=${KEPT_NAME}; path=/; max-age=31536000; SameSite=Lax`
                         : "attache_snapshot=; path=/; max-age=0; SameSite=Lax";
}

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

// With a kept copy (a warm start, ~0.2 s of Python's work left) the page first takes what the
// user does: Pyodide's steps (evaluating its module, instantiating the wasm, restoring the heap)
// keep the main thread busy, and a file picked meanwhile was shown only once they were done.
// They begin at the user's first input, once the page has drawn it, or after HEAD_START_MS.
const HEAD_START_MS = 400;
const FIRST_INPUT = ["pointerdown", "keydown", "change", "paste", "drop", "dragenter"];

function userFirst() {
  // resolves with what began the steps: an input's type, or "head start"
  return new Promise((go) => {
    const begin = (event) => {
      for (const type of FIRST_INPUT) globalThis.removeEventListener(type, begin, true);
      clearTimeout(timer);
      const why = event?.type ?? "head start";
      requestAnimationFrame(() => setTimeout(go, 0, why));   // after the frame that shows the input
      setTimeout(go, 100, why);                              // no frames (a hidden tab): go on anyway
    };
    for (const type of FIRST_INPUT) globalThis.addEventListener(type, begin, { capture: true, passive: true });
    const timer = setTimeout(begin, HEAD_START_MS, null);
  });
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

function mark(name) {
  performance.mark(`attache:${name}`);
}

function started(how, source) {
  // read by the tests and the benchmarks: which way Python started, and when
  const root = globalThis.document?.documentElement;
  if (root) {
    root.dataset.pythonStart = how;
    if (source) root.dataset.pythonSnapshot = source;
  }
  mark(`python-${how}`);
}

async function keptFolder(create) {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(KEPT_FOLDER, { create });
}

async function keptSnapshot() {
  // the decoded copy a previous start kept, or null (none, another build's, no OPFS)
  try {
    const file = await (await (await keptFolder(false)).getFileHandle(KEPT_NAME)).getFile();
    if (file.size === SNAPSHOT_SIZE) return new Uint8Array(await file.arrayBuffer());
    await forgetKept();
  } catch {
    // no copy kept (NotFoundError), or no OPFS here (an insecure context, an old browser)
  }
  if (document.cookie.includes("attache_snapshot=")) saySnapshotKept(false);
  return null;
}

async function forgetKept() {
  try {
    await (await keptFolder(false)).removeEntry(KEPT_NAME);
  } catch {
    // nothing to remove
  }
  saySnapshotKept(false);
}

async function keep(bytes) {
  // write the copy (atomically: a writable commits on close), then drop other builds' copies
  const folder = await keptFolder(true);
  const writable = await (await folder.getFileHandle(KEPT_NAME, { create: true })).createWritable();
  await writable.write(bytes);
  await writable.close();
  for await (const name of folder.keys()) {
    if (name !== KEPT_NAME) await folder.removeEntry(name).catch(() => {});
  }
  saySnapshotKept(true);
  mark("snapshot-kept");
}

function keepWhenIdle(bytes) {
  const idle = globalThis.requestIdleCallback ?? ((run) => setTimeout(run, 1000));
  idle(() => keep(bytes).catch((error) => console.info(`Attache: the snapshot copy was not kept (${error.message || error}).`)),
       { timeout: 10000 });
}

async function networkSnapshot() {
  const response = await fetch(SNAPSHOT_URL);
  if (!response.ok) throw new Unusable(`no snapshot at ${SNAPSHOT_URL} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

async function restore(snapshot, settings) {
  const py = await load({ ...settings, _loadSnapshot: snapshot });
  const key = py.runPython(KEY_QUERY);
  if (key !== SNAPSHOT_KEY) {
    throw new Unusable(`the snapshot was made for other inputs (key ${key || "none"}, expected ${SNAPSHOT_KEY})`);
  }
  return py;
}

function preloadNotNeeded() {
  // the page preloads the snapshot (a cold start needs it at once); with a kept copy the
  // preload is dropped, so the browser does not warn of a preload never used
  if (!document.querySelector(`link[rel=preload][href$="${KEPT_NAME}"]`)) return;
  fetch(SNAPSHOT_URL).then((response) => response.body?.cancel()).catch(() => {});
}

// our page's cookie says a copy is kept (a warm start): it is read at once, and the rest waits
// for the user's first input (userFirst). Otherwise (a first start, a portal) nothing waits.
const keptNoted = OWN_PAGE && document.cookie.split("; ").includes(`attache_snapshot=${KEPT_NAME}`);
const keptEarly = keptNoted ? keptSnapshot() : null;

async function fromSnapshot(settings) {
  // the kept copy if there is one (read while Pyodide fetches its own files), else the network's
  const kept = keptEarly ?? keptSnapshot();
  const first = kept.then((bytes) => bytes ?? networkSnapshot());
  try {
    const py = await restore(first, settings);
    if (await kept) {
      preloadNotNeeded();
      return [py, "kept"];
    }
    keepWhenIdle(await first);
    return [py, "network"];
  } catch (error) {
    if (!(await kept)) throw error;
    console.info(`Attache: the snapshot copy kept in this browser was not usable (${error.message || error}); downloading it.`);
    await forgetKept();
    const bytes = networkSnapshot();
    const py = await restore(bytes, settings);
    keepWhenIdle(await bytes);
    return [py, "network"];
  }
}

async function start() {
  mark("python-boot");
  const begun = performance.now();
  const settings = { indexURL: INDEX_URL, ...io };
  let py, how, source;
  // read by the tests: when Pyodide's steps began, and why then
  performance.mark("attache:python-load", { detail: keptNoted ? await userFirst() : "at once" });
  try {
    [py, source] = await fromSnapshot(settings);
    how = "snapshot";
  } catch (error) {
    const why = error instanceof Unusable ? error.message : `the snapshot cannot be used: ${error.message || error}`;
    console.warn(`Attache: ${why.trim()}; starting Python without it (slower).`);
    py = await load(settings);
    how = "fallback";
  }
  await pause();
  await unpack(py);
  started(how, source);
  if (how === "snapshot") {
    const from = source === "kept" ? "the copy kept in this browser" : "downloaded";
    console.info(`Attache: Python restored from its memory snapshot (${from}) in ${Math.round(performance.now() - begun)} ms.`);
  }
  return py;
}

const python = start();

/** PyScript's: the interpreter started above, [files] unpacked. Its options name the output
 * handlers; the page has no `packages`, so nothing else applies. */
export async function loadPyodide(options = {}) {
  mark("python-asked");
  if (options.stdout) output.stdout = options.stdout;
  if (options.stderr) output.stderr = options.stderr;
  return python;
}
