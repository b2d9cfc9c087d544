// The outbox pump: events first (in the order they happened), then the photos and
// signatures of accepted events, then GPS positions. One run at a time; failures back off
// (2 s doubling to 2 min, with jitter); a new action, the `online` event, app start and a
// 30 s tick start a run.

import { HttpError, NetworkError, request } from './api.js';
import { t } from './i18n.js';
import { files, outbox, positions } from './store.js';

const EVENTS_PER_REQUEST = 50;
const POSITIONS_PER_REQUEST = 200;
const BACKOFF_MIN_MS = 2000;
const BACKOFF_MAX_MS = 120000;

export class Sync {
  constructor({ user, onChange, onAuthLost, onAccepted, onRejected }) {
    this.user = user;
    this.onAccepted = onAccepted;
    this.onChange = onChange;
    this.onAuthLost = onAuthLost;
    this.onRejected = onRejected;
    this.running = null;
    this.again = false;
    this.failures = 0;
    this.timer = null;
    this.stopped = false;
    this.lastError = null;
    this.tick = setInterval(() => this.kick(), 30000);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.tick);
    clearTimeout(this.timer);
  }

  /** Start a run now (or right after the current one). */
  kick() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.running) { this.again = true; return; }
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.again) { this.again = false; this.kick(); }
    });
  }

  retryLater() {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.failures);
    this.failures += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), delay * (0.75 + Math.random() * 0.5));
  }

  async run() {
    if (!navigator.onLine) { this.lastError = 'offline'; this.onChange(); return; }
    this.onChange({ sending: true });
    try {
      const waitingFiles = await this.sendEvents();
      const fileLeft = await this.sendFiles(waitingFiles);
      await this.sendPositions();
      this.failures = 0;
      this.lastError = null;
      if (fileLeft) this.retryLater();
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) {
        this.lastError = 'login';
        this.onAuthLost();
      } else {
        this.lastError = error instanceof NetworkError ? 'offline' : String(error.message || error);
        this.retryLater();
      }
    } finally {
      this.onChange({ sending: false });
    }
  }

  async sendEvents() {
    const rows = (await outbox.all()).filter((r) => r.user === this.user && r.state === 'pending');
    for (let i = 0; i < rows.length; i += EVENTS_PER_REQUEST) {
      const chunk = rows.slice(i, i + EVENTS_PER_REQUEST);
      const { data } = await request('/api/v1/driver/events', {
        method: 'POST', json: { events: chunk.map((r) => r.event) },
      });
      const byKey = new Map((data.results || []).map((r) => [r.key, r]));
      const settled = [];
      const rejected = [];
      const applied = [];
      for (const row of chunk) {
        const result = byKey.get(row.key);
        if (!result) continue; // not answered: stays queued, sent again (the key makes it safe)
        const error = result.error ? (result.error.message || JSON.stringify(result.error)) : 'refused by the server';
        settled.push({ seq: row.seq, key: row.key, status: result.status, error });
        if (result.status === 'rejected') rejected.push({ ...row, error });
        else applied.push(row);
      }
      await outbox.settle(settled);
      if (applied.length) await this.onAccepted(applied);
      if (rejected.length) this.onRejected(rejected);
      this.onChange();
    }
    return rows.length;
  }

  /** Returns true when a file must wait (its event is not on the server yet). */
  async sendFiles() {
    const queued = new Set((await outbox.all()).filter((r) => r.state === 'pending').map((r) => r.key));
    let mustWait = false;
    for (const row of await files.all()) {
      if (row.user !== this.user || row.state !== 'waiting') continue;
      if (queued.has(row.event_key)) { mustWait = true; continue; }
      const form = new FormData();
      form.append('file', row.blob, row.name);
      form.append('kind', row.kind);
      form.append('event_key', row.event_key);
      form.append('recipient', row.recipient || '');
      try {
        await request('/api/v1/driver/pod', { method: 'POST', form, timeoutMs: 120000 });
        await files.remove(row.id);
      } catch (error) {
        if (!(error instanceof HttpError) || error.status === 401 || error.status >= 500 || error.status === 429) throw error;
        if (error.status === 409) { mustWait = true; continue; } // event not there yet
        // Refused for good (too large, wrong type): keep it visible, do not resend forever.
        await files.update({ ...row, state: 'refused', error: error.message, attempts: row.attempts + 1 });
        this.onRejected([{ label: t(row.kind === 'photo' ? 'photo' : 'signature'), error: error.message }]);
      }
      this.onChange();
    }
    return mustWait;
  }

  async sendPositions() {
    for (;;) {
      const rows = await positions.batch(POSITIONS_PER_REQUEST);
      if (!rows.length) return;
      try {
        await request('/api/v1/driver/positions', {
          method: 'POST',
          json: { positions: rows.map(({ id, ...p }) => p) },
        });
      } catch (error) {
        // 409: no started route on the server (finished, or reassigned): the positions
        // cannot belong anywhere. 422: malformed. Either way they are dropped.
        if (!(error instanceof HttpError) || ![409, 422].includes(error.status)) throw error;
      }
      await positions.remove(rows.map((r) => r.id));
      if (rows.length < POSITIONS_PER_REQUEST) return;
    }
  }
}
