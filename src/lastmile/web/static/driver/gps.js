// GPS sharing while a route is started, and only then. Positions are thinned before they are
// queued: one every 10 s while moving (at least 15 m apart), one a minute while standing.

import { positions } from './store.js';
import { t } from './i18n.js';
import { isoNow } from './util.js';

const MOVING_EVERY_MS = 10000;
const STANDING_EVERY_MS = 60000;
const MOVED_M = 15;

function metres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(h));
}

export class Tracker {
  constructor({ onQueued, onStatus }) {
    this.onQueued = onQueued;
    this.onStatus = onStatus;
    this.watch = null;
    this.last = null; // the newest fix, for the coordinates of actions
    this.kept = null; // the newest queued fix
    this.flush = null;
  }

  get active() { return this.watch !== null; }

  start() {
    if (this.watch !== null || !('geolocation' in navigator)) {
      if (!('geolocation' in navigator)) this.onStatus(t('gps_none'));
      return;
    }
    this.startedAt = Date.now();
    this.kept = null;
    this.watch = navigator.geolocation.watchPosition(
      (p) => this.fix(p),
      (error) => this.onStatus(error.code === 1
        ? t('gps_blocked')
        : t('gps_looking')),
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 60000 },
    );
    // Queued positions go out with the next sync, at most every 15 s.
    this.flush = setInterval(() => this.onQueued(), 15000);
    this.onStatus(null);
  }

  stop() {
    if (this.watch !== null) navigator.geolocation.clearWatch(this.watch);
    clearInterval(this.flush);
    this.watch = null;
    this.flush = null;
  }

  /** The newest position if it is recent enough to stamp an action with. */
  here() {
    if (!this.last || Date.now() - this.last.at > 120000) return null;
    return { lon: this.last.lon, lat: this.last.lat };
  }

  fix(p) {
    const c = p.coords;
    const now = Date.now();
    const fix = { lon: c.longitude, lat: c.latitude, at: now };
    this.last = fix;
    this.onStatus(null);
    const kept = this.kept;
    const since = kept ? now - kept.at : Infinity;
    const moved = kept ? metres(kept, fix) : Infinity;
    if (!(since >= STANDING_EVERY_MS || (since >= MOVING_EVERY_MS && moved >= MOVED_M))) return;
    this.kept = fix;
    positions.add({
      lon: Math.round(c.longitude * 1e6) / 1e6,
      lat: Math.round(c.latitude * 1e6) / 1e6,
      // A fix the phone had cached (up to 5 s old) counts from the start of sharing: the
      // server refuses points from before the route was started (no tracking off duty).
      recorded_at: isoNow(new Date(Math.max(p.timestamp || now, this.startedAt))),
      accuracy_m: Number.isFinite(c.accuracy) ? Math.round(c.accuracy * 10) / 10 : null,
      speed_ms: Number.isFinite(c.speed) ? c.speed : null,
      heading: Number.isFinite(c.heading) ? c.heading : null,
    }).catch(() => { /* a full or broken store must not stop the app */ });
  }
}
