// <attache-canvas>: the Attache canvas inside any page (a portal), with one script tag:
//
//   <script type="module" src="https://attache.example.org/attache.js"></script>
//   <attache-canvas config="https://attache.example.org/attache-config.json"
//                   conversation="case-42" identity="agent"></attache-canvas>
//
// The canvas lives in an open shadow root (assistive technology and test tools see
// inside; styles cross in neither direction but through the --attache-* custom
// properties, see docs/embedding.md). Everything else comes from where
// this file comes from (import.meta.url): the stylesheet, PyScript, Pyodide and our
// Python. The element fires attache-message-sent, attache-message-received and
// attache-error (bubbling, composed) with a `detail`.
//
// build.py writes this file to the site's root with the hashed asset names, the
// canvas's HTML (app/templates/canvas.html, loading) in place of "@CANVAS@" and the
// site's pyscript.toml in place of "@PYSCRIPT@".
import { hold } from "./static/early.mjs";

const CANVAS = "@CANVAS@";
const PYSCRIPT_CONFIG = "@PYSCRIPT@";
const here = (path) => new URL(path, import.meta.url).href;
const STYLESHEET = here("./static/attache.css");
const PYSCRIPT = here("./static/vendor/pyscript/core.js");
const DEFAULT_CONFIG = here("./attache-config.json");

function pyscriptConfig() {
  // PyScript resolves relative URLs against the page (the portal's): make them ours
  const { interpreter, files = {}, ...rest } = PYSCRIPT_CONFIG;
  const absolute = Object.fromEntries(Object.entries(files).map(([from, to]) => [here(from), to]));
  return JSON.stringify({ ...rest, interpreter: here(interpreter), files: absolute });
}

let python = null;

function startPython() {
  // PyScript reads the <script type="py"> elements when its module first runs: add ours
  // first. One Python for the page; app/main.py mounts every canvas registered with it.
  if (python) return python;
  import(here(PYSCRIPT_CONFIG.interpreter)).catch(() => {});  // our loader: Python starts at once
  const script = document.createElement("script");
  script.type = "py";
  script.setAttribute("config", pyscriptConfig());
  script.textContent = "import app.main";
  document.head.append(script);
  python = import(PYSCRIPT);
  return python;
}

class AttacheCanvas extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) {           // moved within the page, or put back: the canvas is already there
      if (this.detached) this.canvas.dispatchEvent(new Event("attache-attached"));  // live again
      this.detached = false;
      return;
    }
    const shadow = this.attachShadow({ mode: "open" });
    const sheet = document.createElement("link");
    sheet.rel = "stylesheet";
    sheet.href = STYLESHEET;
    const template = document.createElement("template");
    template.innerHTML = CANVAS;
    const canvas = template.content.firstElementChild;
    this.canvas = canvas;
    canvas.hidden = true;            // until its styles are there: no unstyled flash
    const shown = () => { canvas.hidden = false; };
    sheet.addEventListener("load", shown);
    sheet.addEventListener("error", shown);
    shadow.append(sheet, canvas);
    const config = this.getAttribute("config");
    canvas.dataset.config = config ? new URL(config, document.baseURI).href : DEFAULT_CONFIG;
    for (const name of ["conversation", "identity"]) {
      const value = this.getAttribute(name);
      if (value) canvas.dataset[name] = value;
    }
    hold(canvas);
    startPython();
  }

  disconnectedCallback() {
    // Taken out of the page (a portal's view changed): its live connection closes, so
    // canvases a portal drops never hold the browser's connections to our server. A move
    // (connected again in the same task) is not a removal.
    queueMicrotask(() => {
      if (this.isConnected || !this.canvas) return;
      this.detached = true;
      this.canvas.dispatchEvent(new Event("attache-detached"));
    });
  }
}

if (!customElements.get("attache-canvas")) customElements.define("attache-canvas", AttacheCanvas);
