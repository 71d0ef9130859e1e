// Attache's Pyodide loader. PyScript's `interpreter` setting names this module
// instead of pyodide.mjs, and PyScript calls its loadPyodide with its own options.
// We add the memory snapshot build.py made (Python with jinja2 and our pure modules
// already imported), fetched while the runtime downloads. A snapshot that is
// missing, unreadable or made for other inputs (another Pyodide build, other
// libraries or app code) is not used: Python then starts the normal, slower way,
// and the console says why. build.py fills in the three names below.
import { loadPyodide as load, version } from "@PYODIDE@/pyodide.mjs";

export { version };

const INDEX_URL = new URL("@PYODIDE@/", import.meta.url).href;
const SNAPSHOT_URL = new URL("@SNAPSHOT@", import.meta.url).href;
const SNAPSHOT_KEY = "@KEY@";
const KEY_QUERY = "import sys; getattr(sys.modules.get('_attache_snapshot'), 'key', '')";

class Unusable extends Error {}

async function fetchSnapshot() {
  const response = await fetch(SNAPSHOT_URL);
  if (!response.ok) throw new Unusable(`no snapshot at ${SNAPSHOT_URL} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

function mark(how) {
  // read by the tests and the benchmarks: which way Python started, and when
  const root = globalThis.document?.documentElement;
  if (root) root.dataset.pythonStart = how;
  performance.mark(`attache:python-${how}`);
}

export async function loadPyodide(options = {}) {
  const started = performance.now();
  const settings = { ...options, indexURL: INDEX_URL };
  try {
    const py = await load({ ...settings, _loadSnapshot: fetchSnapshot() });
    const key = py.runPython(KEY_QUERY);
    if (key !== SNAPSHOT_KEY) {
      throw new Unusable(`the snapshot was made for other inputs (key ${key || "none"}, expected ${SNAPSHOT_KEY})`);
    }
    mark("snapshot");
    console.info(`Attache: Python restored from its memory snapshot in ${Math.round(performance.now() - started)} ms.`);
    return py;
  } catch (error) {
    const why = error instanceof Unusable ? error.message : `the snapshot cannot be used: ${error.message || error}`;
    console.warn(`Attache: ${why.trim()}; starting Python without it (slower).`);
    const py = await load(settings);
    mark("fallback");
    return py;
  }
}
