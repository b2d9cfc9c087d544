// The live page: vehicles on the map, every stop as a pin coloured by its status, per route
// the next stop with its ETA and the late risk, alerts for stops running late, and a feed of
// what happened in words, stamped with the time it happened on the driver's phone (24-hour,
// the organisation's time zone, whatever the browser's locale). ETAs are lastmile.live's (the
// one ETA owner): the page's first values come with it, then `eta.updated` / `late_risk`.
import { esc, makeMap, showHome } from './common.js';

const DATA = JSON.parse(document.getElementById('live-data').textContent);
const ZONE = DATA.timezone || 'UTC';
const clockFormat = new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const secondsFormat = new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
/** "14:05" on the organisation's wall clock from an ISO moment ("" for none or nonsense). */
const clock = (iso, format = clockFormat) => {
  if (!iso) return '';
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? '' : format.format(moment);
};
/** The organisation's business time of a real moment: a simulation runs on its own clock
 * (start + (real - anchor) x speed, DATA.clock); a real organisation's is the real time. */
const businessTime = (iso) => {
  const c = DATA.clock;
  const real = iso ? new Date(iso).getTime() : NaN;
  if (!c || Number.isNaN(real)) return iso;
  return new Date(new Date(c.start).getTime() + (real - new Date(c.anchor).getTime()) * c.speed).toISOString();
};
const statusWord = (s) => DATA.status_words?.[s] ?? String(s ?? '').replaceAll('_', ' ');
const failWord = (r) => DATA.fail_words?.[r] ?? String(r ?? '').replaceAll('_', ' ');

const CLOSED = new Set(['delivered', 'failed', 'returned', 'rescheduled', 'cancelled']);
const FAILED = new Set(['failed', 'returned', 'rescheduled']);
const PIN = { delivered: '#1e8e3e', failed: '#c5221f', returned: '#c5221f', rescheduled: '#c5221f', arrived: '#1a73e8' };

const map = makeMap('map');
const bounds = DATA.routes.flatMap(r => r.line);
if (bounds.length) map.fitBounds(bounds, { padding: [20, 20] }); else showHome(map);
const byVehicle = new Map();
const byRoute = new Map();
const orderRoute = new Map();
const pins = new Map();

for (const r of DATA.routes) {
  r.etas = r.etas || {};
  L.polyline(r.line, { color: r.colour, weight: 3, opacity: 0.5, dashArray: '6 6' }).addTo(map);
  byVehicle.set(r.vehicle_id, r);
  if (r.route_id) byRoute.set(r.route_id, r);
  r.orders.forEach(o => orderRoute.set(o, r));
  (r.stops || []).forEach((s, i) => {
    s.seq = i + 1;
    const pin = L.circleMarker([s.lat, s.lon], { radius: 7, weight: 3, color: r.colour, fillOpacity: 1 })
      .bindTooltip(() => pinText(r, s)).addTo(map);
    pin.getElement?.()?.setAttribute('data-order', s.order_id);
    pins.set(s.order_id, { pin, route: r, stop: s });
    paintPin(s.order_id);
  });
}

function pinText(r, s) {
  const state = r.state[s.order_id] || '';
  const eta = r.etas[s.order_id];
  const bits = [`<b>${esc(s.external_id)}</b> · ${esc(r.vehicle_name)} stop ${s.seq}`, esc(s.address), esc(statusWord(state))];
  if (eta && !CLOSED.has(state)) {
    bits.push(`expected ${esc(eta.eta)}${eta.level === 'late' ? `, about ${eta.minutes_late} min late` : eta.level === 'at_risk' ? ', may be late' : ''}`);
  } else if (!CLOSED.has(state)) bits.push(`planned ${esc(s.planned)}`);
  return bits.join('<br>');
}

function paintPin(orderId) {
  const found = pins.get(orderId);
  if (!found) return;
  const { pin, route } = found;
  const state = route.state[orderId] || '';
  const level = CLOSED.has(state) ? 'on_time' : route.etas[orderId]?.level || 'on_time';
  const risky = level === 'late' || level === 'at_risk';
  pin.setStyle({
    fillColor: PIN[state] || '#ffffff',
    color: risky ? '#f29900' : route.colour,
    weight: risky ? 4 : 3,
  });
  const el = pin.getElement?.();
  if (el) { el.setAttribute('data-order', orderId); el.setAttribute('data-status', state); el.setAttribute('data-level', level); }
}

const markers = new Map();
const feed = document.getElementById('feed');
const status = document.getElementById('live-status');
function rowOf(r) { return document.querySelector(`#live-routes tr[data-vehicle="${CSS.escape(r.vehicle_id)}"]`); }

// ------------------------------------------------------------------ routes table and alerts

function drawRoute(r) {
  const row = rowOf(r);
  if (!row) return;
  const states = Object.values(r.state);
  const done = states.filter(s => s === 'delivered').length;
  const failed = states.filter(s => FAILED.has(s)).length;
  row.querySelector('.delivered').textContent = String(done);
  row.querySelector('.failed').textContent = String(failed);
  row.querySelector('.progress > div').style.width = `${((done + failed) / (r.orders.length || 1)) * 100}%`;
  const open = (r.stops || []).filter(s => !CLOSED.has(r.state[s.order_id]));
  const next = open[0];
  const nextCell = row.querySelector('.next-stop');
  if (!next) nextCell.textContent = r.orders.length ? 'all done' : '—';
  else {
    const eta = r.etas[next.order_id];
    nextCell.textContent = `${next.external_id} · ${eta ? `ETA ${eta.eta}` : `planned ${next.planned}`}`;
  }
  const late = open.filter(s => r.etas[s.order_id]?.level === 'late');
  const atRisk = open.filter(s => r.etas[s.order_id]?.level === 'at_risk');
  const known = open.some(s => r.etas[s.order_id]);
  const riskCell = row.querySelector('.risk');
  riskCell.className = 'risk';
  if (late.length) {
    const worst = Math.max(...late.map(s => r.etas[s.order_id].minutes_late || 0));
    riskCell.classList.add('late');
    riskCell.textContent = `${late.length} late (up to ${worst} min)${atRisk.length ? `, ${atRisk.length} at risk` : ''}`;
  } else if (atRisk.length) {
    riskCell.classList.add('at_risk');
    riskCell.textContent = `${atRisk.length} at risk`;
  } else if (known) {
    riskCell.classList.add('on_time');
    riskCell.textContent = 'on time';
  } else {
    riskCell.classList.add('muted');
    riskCell.textContent = open.length ? 'not known yet' : '—';
  }
}

function drawAlerts() {
  const items = [];
  for (const r of DATA.routes) {
    for (const s of r.stops || []) {
      const eta = r.etas[s.order_id];
      if (!eta || eta.level !== 'late' || CLOSED.has(r.state[s.order_id])) continue;
      items.push({ minutes: eta.minutes_late || 0, html: `<b>${esc(s.external_id)}</b> (${esc(r.vehicle_name)}, stop ${s.seq}): about ${eta.minutes_late} min late, expected ${esc(eta.eta)}${eta.promise ? `, promised ${esc(eta.promise[0])}–${esc(eta.promise[1])}` : ''}` });
    }
  }
  items.sort((a, b) => b.minutes - a.minutes);
  document.getElementById('alert-list').innerHTML = items.map(i => `<li>${i.html}</li>`).join('');
  document.getElementById('alerts').hidden = !items.length;
}

for (const r of DATA.routes) drawRoute(r);
drawAlerts();

// ------------------------------------------------------------------ live events

function addFeed(when, html) {
  const li = document.createElement('li');
  li.innerHTML = `<time class="muted" datetime="${esc(when || '')}">${esc(clock(when, secondsFormat) || '—')}</time> ${html}`;
  feed.prepend(li);
  while (feed.children.length > 200) feed.lastChild.remove();
}

function position(d) {
  const r = (d.route_id && byRoute.get(d.route_id)) || DATA.routes.find(x => x.driver_id && x.driver_id === d.driver_id);
  const key = d.driver_id || d.route_id;
  const colour = r ? r.colour : '#333';
  const label = r ? r.vehicle_name : (DATA.drivers[d.driver_id] || 'driver');
  const latlng = [d.lat, d.lon];
  let m = markers.get(key);
  if (!m) {
    m = L.marker(latlng, { title: label, zIndexOffset: 1000, icon: L.divIcon({ className: '', html: `<div class="vehicle-dot live-vehicle" style="border-color:${colour}">${esc(label)}</div>`, iconSize: null, iconAnchor: [10, 10] }) }).addTo(map);
    markers.set(key, m);
  } else m.setLatLng(latlng);
  if (r) { const cell = rowOf(r)?.querySelector('.last-seen'); if (cell) cell.textContent = clock(d.recorded_at || d.at) || 'now'; }
}

function statusChanged(d) {
  const r = orderRoute.get(d.order_id);
  if (!r) return;
  r.state[d.order_id] = d.to;
  paintPin(d.order_id);
  drawRoute(r);
  drawAlerts();
}

/** `eta.updated` stops or a `late_risk` payload: the stop's new ETA and risk. */
function etaChanged(r, s) {
  if (!r || !s.order_id) return;
  r.etas[s.order_id] = {
    ...(r.etas[s.order_id] || {}),
    eta: clock(s.eta) || r.etas[s.order_id]?.eta || '',
    promise: Array.isArray(s.promise) ? s.promise.map(p => clock(p)) : (r.etas[s.order_id]?.promise ?? null),
    level: s.level,
    minutes_late: s.minutes_late,
  };
  paintPin(s.order_id);
}

const vehicleOf = (d) => {
  const r = byRoute.get(d.route_id) || byVehicle.get(d.vehicle_id);
  const driver = d.driver_id && DATA.drivers[d.driver_id];
  return `${r ? r.vehicle_name : (d.vehicle || 'a vehicle')}${driver ? ` (${driver})` : ''}`;
};

/** What an event says, in the owner's words; null: not worth a line in the feed. */
function summary(type, d) {
  if (type === 'order.status_changed') {
    const why = d.reason ? ` — ${failWord(d.reason)}` : '';
    return `<b>${esc(d.external_id)}</b>: ${esc(statusWord(d.from))} → <b>${esc(statusWord(d.to))}</b>${esc(why)}`;
  }
  if (type === 'late_risk') {
    if (d.level === 'late') return `⚠ <b>${esc(d.external_id)}</b> will be about ${esc(d.minutes_late)} min late (expected ${esc(clock(d.eta))})`;
    if (d.level === 'at_risk') return `⚠ <b>${esc(d.external_id)}</b> may be late (expected ${esc(clock(d.eta))})`;
    return `<b>${esc(d.external_id)}</b> is back on time (expected ${esc(clock(d.eta))})`;
  }
  if (type === 'stop.conflict') return `⚠ ${esc(d.message)}`;
  if (type === 'route.started') return `${esc(vehicleOf(d))} started the route`;
  if (type === 'route.finished') return `${esc(vehicleOf(d))} finished the route`;
  if (type === 'route.dispatched') return `${esc(vehicleOf(d))}: route sent to the driver`;
  if (type === 'route.changed') return `${esc(vehicleOf(d))}: route changed`;
  if (type === 'order.created') return `New order <b>${esc(d.external_id || '')}</b>`;
  if (type === 'plan.done') return 'A plan is ready';
  return null;
}

const source = new EventSource(`/api/v1/events?last_event_id=${DATA.replay_from}`, { withCredentials: true });
source.onopen = () => { status.textContent = 'live'; };
source.onerror = () => { status.textContent = 'reconnecting…'; };
const handle = (type, fn) => source.addEventListener(type, (e) => {
  const event = JSON.parse(e.data);
  fn(event.data);
  const text = summary(type, event.data);
  // When it happened (a phone that synced late reports its own time), else when it was
  // recorded, on the organisation's clock (a simulation's business time, not the real one).
  if (text) addFeed(event.data.at || event.data.recorded_at || businessTime(event.created_at), text);
});
handle('driver.position', (d) => {
  for (const p of (d.positions || [d])) position({ ...d, ...p });
});
handle('order.status_changed', statusChanged);
handle('eta.updated', (d) => {
  const r = byRoute.get(d.route_id);
  for (const s of d.stops || []) etaChanged(r, s);
  if (r) drawRoute(r);
  drawAlerts();
});
handle('late_risk', (d) => {
  const r = byRoute.get(d.route_id);
  etaChanged(r, d);
  if (r) drawRoute(r);
  drawAlerts();
});
for (const t of ['stop.conflict', 'route.dispatched', 'route.started', 'route.finished', 'route.changed', 'plan.done', 'order.created', 'order.updated']) handle(t, () => {});
