// Dispatcher changes without reloading: the route's event stream (SSE read with fetch, since
// EventSource cannot send the bearer token), and a poll of the route every 30 s whenever the
// stream is not connected.

import { HttpError, stream } from './api.js';

const POLL_MS = 30000;

export class Live {
  constructor({ onChange, onAuthLost }) {
    this.onChange = onChange;
    this.onAuthLost = onAuthLost;
    this.connected = false;
    this.opened = false;
    this.stopped = false;
    this.abort = null;
    this.failures = 0;
    this.poll = setInterval(() => {
      if (!this.connected && navigator.onLine && document.visibilityState !== 'hidden') this.onChange('poll');
    }, POLL_MS);
    this.loop();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.poll);
    this.abort?.abort();
  }

  /** Reconnect now (after the phone comes back online). */
  reconnect() {
    this.failures = 0;
    this.abort?.abort();
  }

  async loop() {
    while (!this.stopped) {
      if (!navigator.onLine) {
        await new Promise((resolve) => window.addEventListener('online', resolve, { once: true }));
        continue;
      }
      this.abort = new AbortController();
      try {
        await stream('/api/v1/driver/stream', {
          signal: this.abort.signal,
          onOpen: () => {
            this.connected = true;
            document.body.dataset.live = 'stream';
            this.failures = 0;
            // Changes may have happened while the stream was down: read the route again.
            if (this.opened) this.onChange('reconnect');
            this.opened = true;
          },
          onEvent: (type, data) => this.onChange(type, data),
        });
      } catch (error) {
        if (error instanceof HttpError && error.status === 401) { this.onAuthLost(); return; }
      } finally {
        this.connected = false;
        document.body.dataset.live = 'polling'; // every 30 s while the stream is down
      }
      if (this.stopped) return;
      const wait = Math.min(60000, 3000 * 2 ** this.failures) * (0.75 + Math.random() * 0.5);
      this.failures += 1;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, wait);
        window.addEventListener('online', () => { clearTimeout(timer); resolve(); }, { once: true });
      });
    }
  }
}
