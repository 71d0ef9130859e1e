"""What a page has kept in IndexedDB (app/browser/storage.py), so a test reloads once it is there,
not after a guessed pause: IndexedDB commits asynchronously."""
from __future__ import annotations

from tools.waiting import page_pause, wait_until

# Reads the app's own database; it exists by then (the page opened it), so no empty one is made here.
READ_UNSENT = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("attache");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains("unsent")) { db.close(); resolve([]); return; }
    const all = db.transaction("unsent", "readonly").objectStore("unsent").getAll();
    all.onsuccess = () => { db.close(); resolve(all.result.map(v => v.key + " " + v.record)); };
    all.onerror = () => { db.close(); reject(all.error); };
  };
})"""


def wait_kept(page, *words: str) -> None:
    """Until one kept record (its key and JSON) holds every one of `words`."""
    wait_until(lambda: any(all(w in kept for w in words) for kept in page.evaluate(READ_UNSENT)),
               f"the page keeps {words} in IndexedDB", pause=page_pause(page))
