// Everything the app must not lose lives in IndexedDB: the session, the last route, and the
// outbox (driver actions, their photos and signatures as Blobs, GPS positions). An action is
// written here, in one transaction with its files, before anything is sent.

const DB_NAME = 'lastmile-driver';
const DB_VERSION = 1;
let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore('kv');
        db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
        db.createObjectStore('files', { keyPath: 'id', autoIncrement: true });
        db.createObjectStore('positions', { keyPath: 'id', autoIncrement: true });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('the app is open in another tab with an older version'));
    });
  }
  return opening;
}

const done = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

async function transaction(stores, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(stores, mode);
    let result;
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
    Promise.resolve(work(tx)).then((value) => { result = value; }, (error) => {
      try { tx.abort(); } catch { /* already finished */ }
      reject(error);
    });
  });
}

export const kv = {
  get: (key) => transaction(['kv'], 'readonly', (tx) => done(tx.objectStore('kv').get(key))),
  set: (key, value) => transaction(['kv'], 'readwrite', (tx) => { tx.objectStore('kv').put(value, key); }),
  delete: (key) => transaction(['kv'], 'readwrite', (tx) => { tx.objectStore('kv').delete(key); }),
};

/** Queue one driver action with its files (photo, signature) atomically. */
export function queueAction({ user, event, label, files = [] }) {
  return transaction(['outbox', 'files'], 'readwrite', (tx) => {
    tx.objectStore('outbox').add({
      user, key: event.key, event, label, state: 'pending', error: null, queued_at: Date.now(),
    });
    for (const file of files) {
      tx.objectStore('files').add({
        user, event_key: event.key, kind: file.kind, blob: file.blob, name: file.name,
        recipient: file.recipient || '', state: 'waiting', error: null, attempts: 0,
      });
    }
  });
}

export const outbox = {
  all: () => transaction(['outbox'], 'readonly', (tx) => done(tx.objectStore('outbox').getAll())),
  /** Settle sent events: accepted ones leave the queue, rejected ones stay to be shown. */
  settle: (settled) => transaction(['outbox', 'files'], 'readwrite', async (tx) => {
    const store = tx.objectStore('outbox');
    const files = tx.objectStore('files');
    const allFiles = await done(files.getAll());
    for (const { seq, key, status, error } of settled) {
      if (status === 'rejected') {
        const row = await done(store.get(seq));
        if (row) store.put({ ...row, state: 'rejected', error });
        // Its photo or signature has no event to belong to: it is not sent.
        for (const f of allFiles) if (f.event_key === key) files.delete(f.id);
      } else {
        store.delete(seq);
      }
    }
  }),
  dismiss: (seq) => transaction(['outbox'], 'readwrite', (tx) => { tx.objectStore('outbox').delete(seq); }),
};

export const files = {
  all: () => transaction(['files'], 'readonly', (tx) => done(tx.objectStore('files').getAll())),
  remove: (id) => transaction(['files'], 'readwrite', (tx) => { tx.objectStore('files').delete(id); }),
  update: (row) => transaction(['files'], 'readwrite', (tx) => { tx.objectStore('files').put(row); }),
};

const MAX_POSITIONS = 5000;

export const positions = {
  add: (row) => transaction(['positions'], 'readwrite', async (tx) => {
    const store = tx.objectStore('positions');
    store.add(row);
    // Days without signal must not fill the phone: keep the newest positions only.
    const count = await done(store.count());
    if (count > MAX_POSITIONS) {
      const keys = await done(store.getAllKeys(null, count - MAX_POSITIONS));
      for (const k of keys) store.delete(k);
    }
  }),
  batch: (limit) => transaction(['positions'], 'readonly', (tx) => done(tx.objectStore('positions').getAll(null, limit))),
  remove: (ids) => transaction(['positions'], 'readwrite', (tx) => {
    const store = tx.objectStore('positions');
    for (const id of ids) store.delete(id);
  }),
};
