// Shared helpers of the dashboard pages: API calls with the CSRF header, toasts, the map.
export const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? '';

export async function api(method, url, body) {
  const init = { method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf() } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!response.ok) {
    const error = new Error(problemText(data) || response.statusText);
    error.data = data; error.status = response.status;
    throw error;
  }
  return data;
}

export function problemText(data) {
  if (!data) return '';
  const errors = (data.errors || []).map(e => `${e.row ? 'row ' + e.row + ' ' : ''}${e.field ?? ''}: ${e.message}`);
  return [data.detail, ...errors.slice(0, 5)].filter(Boolean).join(' — ');
}

export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.className = `show ${kind}`;
  clearTimeout(el._t);
  el._t = setTimeout(() => { el.className = ''; }, kind === 'error' ? 8000 : 4000);
}

// An order's status as the shop owner reads it ("on the way", not "out_for_delivery"): the
// server's one list (pageframe/layout.py STATUS_WORDS), handed over in a meta tag.
let statusWords = null;
export function statusWord(status) {
  if (statusWords === null) {
    try { statusWords = JSON.parse(document.querySelector('meta[name="status-words"]')?.content || '{}'); }
    catch { statusWords = {}; }
  }
  return statusWords[status] ?? String(status ?? '').replaceAll('_', ' ');
}

export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

// Where an empty map looks: the organisation's first depot (or vehicle), else the world.
export function showHome(map) {
  const home = document.querySelector('meta[name="home-center"]')?.content;
  if (home) map.setView(home.split(',').map(Number), 12); else map.setView([20, 0], 2);
}

export const ATTRIBUTION = '© OpenStreetMap contributors';

// A Leaflet map on a raster tile server when one is configured; else on our own vector tiles
// (streets with names, house numbers; static/common/basemap.js), else, when this server has no
// tiles built, on the road lines of the road graph.
export function makeMap(id, options = {}) {
  const map = L.map(id, { zoomSnap: 0.25, maxZoom: 19, ...options });
  const tileUrl = document.querySelector('meta[name="tile-url"]')?.content;
  if (tileUrl) {
    L.tileLayer(tileUrl, { maxZoom: 19, attribution: ATTRIBUTION }).addTo(map);
  } else {
    window.lastmileBasemap.add(map); // vector tiles, else the road lines (basemap.js)
  }
  return map;
}

export function numberIcon(label, colour, extra = '') {
  return L.divIcon({
    className: '',
    html: `<div class="stop-label ${extra}" style="border-color:${colour};color:${colour}">${esc(label)}</div>`,
    iconSize: [22, 22], iconAnchor: [11, 11],
  });
}

// "8-12; 14:00-16:00" -> [{start: "08:00", end: "12:00"}, ...] (empty: any time).
export function parseWindows(text) {
  const clock = (h, m) => `${String(h).padStart(2, '0')}:${m ?? '00'}`;
  return text.split(/[;,]/).map(s => s.trim()).filter(Boolean).map(part => {
    const m = part.match(/^(\d{1,2})(?:[:.h](\d{2}))?\s*(?:-|–|to)\s*(\d{1,2})(?:[:.h](\d{2}))?$/);
    if (!m) throw new Error(`"${part}" is not a time window (like 08:00-12:00)`);
    return { start: clock(m[1], m[2]), end: clock(m[3], m[4]) };
  });
}
