// Attache before Python: the canvas the server (or <attache-canvas>) drew is usable at once.
//
// Python takes about a second to start. Until then these few lines let the agent type,
// and hold every file picked, dropped or pasted: each is shown in the composer with its
// name and size, marked "Checking…" (aria-busy), and handed over to Python when it starts,
// which judges it by the administrator's rules (a refused file is named in a notice then)
// before it can be sent. Send stays disabled, and the canvas aria-busy, until Python is ready.
// No file is read, judged or sent here.
//
// hold(root) registers the canvas in globalThis.__attache (window.attache is #attache),
// where app/main.py finds it; Python calls root.attacheEarly.take() when it binds its own
// handlers, in the same task, so no event falls between the two.

const registry = (globalThis.__attache ??= { pending: [], mount: null });

function sizeLabel(n) {
  // app.core.humanize.human_size, as it reads for the sizes people pick
  if (n < 1000) return n === 1 ? "1 byte" : `${n} bytes`;
  let unit = 1;
  for (const name of ["kB", "MB", "GB", "TB"]) {
    unit *= 1000;
    const tenths = Math.floor((20 * n + unit) / (2 * unit));
    if (tenths < 1000) return `${Math.floor(tenths / 10)}.${tenths % 10} ${name}`;
    const whole = Math.floor((2 * n + unit) / (2 * unit));
    if (whole < 1000 || name === "TB") return `${whole} ${name}`;
  }
}

function heldItem(doc, file, index) {
  const item = doc.createElement("div");
  item.className = "staged-file";
  item.setAttribute("role", "group");
  item.setAttribute("aria-label", `Attachment ${file.name}`);
  item.setAttribute("aria-busy", "true");
  const ext = /\.([^.]{1,4})$/.exec(file.name);
  const icon = Object.assign(doc.createElement("span"), { className: "file-icon", textContent: ext ? ext[1].toUpperCase() : "FILE" });
  icon.setAttribute("aria-hidden", "true");
  const meta = Object.assign(doc.createElement("span"), { className: "file-meta" });
  const name = Object.assign(doc.createElement("span"), { className: "file-name", title: file.name, textContent: file.name });
  const size = Object.assign(doc.createElement("span"), { className: "file-size", textContent: `${sizeLabel(file.size)} · Checking…` });
  meta.append(name, " ", size);
  const remove = Object.assign(doc.createElement("button"), { type: "button", className: "icon-btn", title: "Remove attachment", textContent: "×" });
  remove.setAttribute("aria-label", "Remove attachment");
  remove.dataset.held = String(index);
  item.append(icon, meta, remove);
  return item;
}

const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");

export function hold(root) {
  const $ = (id) => root.querySelector(`#${id}`);
  const [input, attach, text, staged, form, overlay] =
    ["file-input", "attach", "message", "staged", "composer", "drop-overlay"].map($);
  if (!input || !attach || !text || !staged || !form || root.attacheEarly) return;
  const doc = root.ownerDocument;
  const held = [];
  const listeners = [];
  const on = (target, type, handler) => {
    target.addEventListener(type, handler);
    listeners.push([target, type, handler]);
  };
  const show = () => {
    staged.replaceChildren(...held.map((file, i) => heldItem(doc, file, i)));
    staged.hidden = held.length === 0;
  };
  const add = (files) => {
    held.push(...files);
    show();
  };
  let depth = 0;
  const dragging = (visible) => {
    if (overlay) overlay.hidden = !visible;
  };

  on(attach, "click", () => input.click());
  on(input, "change", () => {
    add([...input.files]);
    input.value = "";
  });
  on(text, "paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) {
      event.preventDefault();
      add(files);
    }
  });
  on(text, "keydown", (event) => {   // Enter sends once Python is ready; not a new line now
    if (event.key === "Enter" && !(event.shiftKey || event.isComposing)) event.preventDefault();
  });
  on(form, "submit", (event) => event.preventDefault());
  on(staged, "click", (event) => {
    const button = event.target.closest("[data-held]");
    if (button) {
      held.splice(Number(button.dataset.held), 1);
      show();
      text.focus();
    }
  });
  on(root, "dragenter", (event) => {
    if (hasFiles(event)) { event.preventDefault(); depth += 1; dragging(true); }
  });
  on(root, "dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) dragging(false);
  });
  on(root, "drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    dragging(false);
    add([...event.dataTransfer.files]);
  });
  const keepPage = (event) => { if (hasFiles(event)) event.preventDefault(); };   // a file dropped beside
  on(doc.defaultView, "dragover", keepPage);                                         // the canvas must not
  on(doc.defaultView, "drop", keepPage);                                             // replace the page

  const log = root.querySelector("#history");
  if (log) log.scrollTop = log.scrollHeight;    // the newest messages in view, where Python keeps them
  text.placeholder = "Write a message…";
  text.disabled = false;
  attach.disabled = false;
  root.attacheEarly = {
    /** Python's: stop holding; the files held so far, oldest first. */
    take() {
      for (const [target, type, handler] of listeners) target.removeEventListener(type, handler);
      delete root.attacheEarly;
      return held.splice(0);
    },
  };
  if (registry.mount) registry.mount(root);
  else registry.pending.push(root);
}

// The page's own canvas (index.html); <attache-canvas> calls hold() for its shadow root.
const page = document.getElementById("attache");
if (page) {
  hold(page);
  // the server shows message times on the reader's clock from the next page on
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone) document.cookie = `attache_tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; SameSite=Lax`;
}
