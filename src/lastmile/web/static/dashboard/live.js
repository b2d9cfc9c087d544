import { esc, makeMap, showHome } from './common.js';

const DATA = JSON.parse(document.getElementById('live-data').textContent);
const map = makeMap('map');
const bounds = DATA.routes.flatMap(r => r.line);
if (bounds.length) map.fitBounds(bounds, { padding: [20, 20] }); else showHome(map);
const byVehicle = new Map();
const byRoute = new Map();
const orderRoute = new Map();
for (const r of DATA.routes) {
  L.polyline(r.line, { color: r.colour, weight: 3, opacity: 0.5, dashArray: '6 6' }).addTo(map);
  byVehicle.set(r.vehicle_id, r);
  if (r.route_id) byRoute.set(r.route_id, r);
  r.orders.forEach(o => orderRoute.set(o, r));
}

const markers = new Map();
const feed = document.getElementById('feed');
const status = document.getElementById('live-status');
const hhmm = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '');
function addFeed(text) {
  const li = document.createElement('li');
  li.innerHTML = text;
  feed.prepend(li);
  while (feed.children.length > 200) feed.lastChild.remove();
}
function rowOf(r) { return document.querySelector(`#live-routes tr[data-vehicle="${CSS.escape(r.vehicle_id)}"]`); }

function position(d) {
  const r = (d.route_id && byRoute.get(d.route_id)) || DATA.routes.find(x => x.driver_id && x.driver_id === d.driver_id);
  const key = d.driver_id || d.route_id;
  const colour = r ? r.colour : '#333';
  const label = r ? r.vehicle_name : (DATA.drivers[d.driver_id] || 'driver');
  const latlng = [d.lat, d.lon];
  let m = markers.get(key);
  if (!m) {
    m = L.marker(latlng, { title: label, icon: L.divIcon({ className: '', html: `<div class="vehicle-dot live-vehicle" style="border-color:${colour}">${esc(label)}</div>`, iconSize: null, iconAnchor: [10, 10] }) }).addTo(map);
    markers.set(key, m);
  } else m.setLatLng(latlng);
  if (r) { const cell = rowOf(r)?.querySelector('.last-seen'); if (cell) cell.textContent = `${hhmm(d.recorded_at || d.at) || 'now'} · ${d.lat.toFixed(4)}, ${d.lon.toFixed(4)}`; }
}

const FAILED = ['failed', 'returned', 'rescheduled'];
function statusChanged(d) {
  const r = orderRoute.get(d.order_id);
  if (!r) return;
  r.state[d.order_id] = d.to;
  const states = Object.values(r.state);
  const done = states.filter(s => s === 'delivered').length;
  const failed = states.filter(s => FAILED.includes(s)).length;
  const row = rowOf(r);
  if (row) {
    row.querySelector('.delivered').textContent = String(done);
    row.querySelector('.failed').textContent = String(failed);
    row.querySelector('.progress > div').style.width = `${((done + failed) / (r.orders.length || 1)) * 100}%`;
  }
}

const source = new EventSource(`/api/v1/events?last_event_id=${DATA.replay_from}`, { withCredentials: true });
source.onopen = () => { status.textContent = 'live'; };
source.onerror = () => { status.textContent = 'reconnecting…'; };
const handle = (type, fn) => source.addEventListener(type, (e) => {
  const event = JSON.parse(e.data);
  fn(event.data);
  // When it happened (a phone synced late reports its own time), else when it was recorded.
  const when = event.data.at || event.data.recorded_at || event.created_at;
  addFeed(`<span class="muted">${new Date(when).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })}</span> <b>${esc(type)}</b> ${esc(summary(type, event.data))}`);
});
function summary(type, d) {
  if (type === 'driver.position') return `${DATA.drivers[d.driver_id] || d.driver_id || ''} at ${Number(d.lat).toFixed(4)}, ${Number(d.lon).toFixed(4)}`;
  if (type === 'stop.conflict') return `⚠ ${d.message}`;
  if (type === 'order.status_changed') return `${d.external_id}: ${d.from} → ${d.to}${d.reason ? ' (' + d.reason + ')' : ''}`;
  if (type.startsWith('route.')) {
    const r = byRoute.get(d.route_id) || byVehicle.get(d.vehicle_id);
    return `${r ? r.vehicle_name : (d.vehicle || '')}${d.driver_id && DATA.drivers[d.driver_id] ? ' · ' + DATA.drivers[d.driver_id] : ''}`;
  }
  return Object.entries(d).slice(0, 4).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
}
handle('driver.position', (d) => {
  for (const p of (d.positions || [d])) position({ ...d, ...p });
});
handle('order.status_changed', statusChanged);
handle('stop.conflict', () => {});
for (const t of ['route.dispatched', 'route.started', 'route.finished', 'plan.done', 'order.created', 'order.updated']) handle(t, () => {});
