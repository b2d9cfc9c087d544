import { api, esc, makeMap, numberIcon, toast, showHome } from './common.js';

const DATA = JSON.parse(document.getElementById('plan-data').textContent);

// ---- live progress while the plan is solving: SSE events, with polling as a safety net
if (DATA.status === 'queued' || DATA.status === 'running') {
  const bar = document.getElementById('progress');
  const label = document.getElementById('progress-label');
  const show = (fraction) => {
    const pct = Math.round(fraction * 100);
    bar.firstElementChild.style.width = `${pct}%`;
    bar.setAttribute('aria-valuenow', String(pct));
    label.textContent = `Optimising… ${pct} %`;
    if (fraction > 0) document.getElementById('plan-status').textContent = 'planning';
  };
  let finished = false;
  const finish = () => { if (!finished) { finished = true; location.reload(); } };
  const source = new EventSource('/api/v1/events?types=plan.progress&types=plan.done&types=plan.failed&types=plan.running', { withCredentials: true });
  const mine = (e) => { const d = JSON.parse(e.data); return d.data.plan_id === DATA.plan_id ? d.data : null; };
  source.addEventListener('plan.progress', (e) => { const d = mine(e); if (d) show(d.progress); });
  source.addEventListener('plan.done', (e) => { if (mine(e)) { show(1); finish(); } });
  source.addEventListener('plan.failed', (e) => { if (mine(e)) finish(); });
  const poll = async () => {
    try {
      const plan = await api('GET', `/api/v1/plans/${DATA.plan_id}`);
      show(plan.progress);
      if (plan.status === 'done' || plan.status === 'failed') { finish(); return; }
    } catch (e) { console.warn(e); }
    setTimeout(poll, 1500);
  };
  setTimeout(poll, 1500);
}

// ---- map: routes coloured per vehicle, numbered stops
if (document.getElementById('map')) {
  const map = makeMap('map');
  // The view first: Leaflet cannot project lines onto a map without one.
  const bounds = DATA.routes.flatMap(r => [[r.start[1], r.start[0]], ...r.stops.map(s => [s.lat, s.lon])]);
  if (bounds.length) map.fitBounds(bounds, { padding: [20, 20] }); else showHome(map);
  const lines = L.layerGroup().addTo(map);
  for (const r of DATA.routes) {
    const colour = DATA.colours[r.vehicle_id];
    const straight = [[r.start[1], r.start[0]], ...r.stops.map(s => [s.lat, s.lon])];
    L.polyline(straight, { color: colour, weight: 4, opacity: 0.85, className: `route-line v-${r.vehicle_id}` })
      .bindPopup(`<b>${esc(r.vehicle_name)}</b><br>${r.stops.length} stops`).addTo(lines);
    for (const s of r.stops) {
      L.marker([s.lat, s.lon], { icon: numberIcon(s.sequence, colour), title: `${r.vehicle_name} stop ${s.sequence}: ${s.external_id}`, keyboard: false })
        .bindPopup(`<b>${esc(s.external_id)}</b><br>${esc(r.vehicle_name)} stop ${s.sequence}, ETA ${esc(s.eta)}`).addTo(map);
    }
    L.circleMarker([r.start[1], r.start[0]], { radius: 6, color: '#222', fillColor: '#fff', fillOpacity: 1 }).bindPopup('Depot').addTo(map);
  }
  // Road geometry (when the road engine is on) replaces the straight segments.
  api('GET', `/app/api/plans/${DATA.plan_id}/geometry`).then((geo) => {
    if (!geo.roads) return;
    lines.clearLayers();
    for (const r of DATA.routes) {
      L.polyline(geo.routes[r.vehicle_id], { color: DATA.colours[r.vehicle_id], weight: 4, opacity: 0.85, className: `route-line v-${r.vehicle_id}` }).addTo(lines);
    }
  }).catch(e => console.warn(e));
}

// ---- dispatch
const dispatchForm = document.getElementById('dispatch-form');
dispatchForm?.addEventListener('submit', async (e) => {
  e.preventDefault();
  const assignments = {};
  dispatchForm.querySelectorAll('select').forEach(s => { if (s.value) assignments[s.name] = s.value; });
  if (!confirm('Publish these routes to the drivers?')) return;
  try {
    const r = await api('POST', `/api/v1/plans/${DATA.plan_id}/dispatch`, { assignments });
    toast(`Dispatched: ${r.routes.length} route(s), ${r.orders_dispatched} order(s)`);
    setTimeout(() => location.reload(), 600);
  } catch (err) { toast(err.message, 'error'); }
});

// ---- edit: move a stop (drag and drop, or the Move dialog), checked on the server first
const dialog = document.getElementById('move-dialog');
if (dialog) {
  const vehicleSelect = document.getElementById('move-vehicle');
  const position = document.getElementById('move-position');
  const result = document.getElementById('move-result');
  const confirmBtn = document.getElementById('move-confirm');
  let move = null;
  // Before dispatch a move edits the plan (the dashboard's edit routes); once its routes are
  // out, it is an edit of the running day, the public POST /api/v1/plans/{id}/moves: onto a
  // running route (or off it), among the stops still to do, and the driver's app reloads.
  const running = Object.keys(DATA.route_ids || {}).length > 0;
  const place = () => Math.max(0, Number(position.value) - 1);
  const body = () => ({ order_id: move.order_id, to_vehicle_id: vehicleSelect.value, position: place() });
  const runningBody = (preview) => ({ order_id: move.order_id, to_route_id: DATA.route_ids[vehicleSelect.value] || null, position: place(), preview });
  const previewMove = async () => {
    if (!running) return api('POST', `/app/api/plans/${DATA.plan_id}/edit/preview`, body());
    const r = await api('POST', `/api/v1/plans/${DATA.plan_id}/moves`, runningBody(true));
    return { ...r, cost_delta: r.cost_after - r.cost_before, distance_delta_m: null };
  };
  const applyMove = () => (running
    ? api('POST', `/api/v1/plans/${DATA.plan_id}/moves`, runningBody(false))
    : api('POST', `/app/api/plans/${DATA.plan_id}/edit/apply`, body()));
  const check = async () => {
    confirmBtn.disabled = true;
    result.innerHTML = '<p class="muted">Checking…</p>';
    try {
      const r = await previewMove();
      const delta = r.cost_delta >= 0 ? `+${r.cost_delta.toFixed(2)}` : r.cost_delta.toFixed(2);
      const km = r.distance_delta_m === null ? null : (r.distance_delta_m / 1000).toFixed(1);
      const distance = km === null ? '' : `, distance ${km >= 0 ? '+' : ''}${km} km`;
      result.innerHTML = `<p id="move-delta">Cost ${r.cost_before.toFixed(2)} → ${r.cost_after.toFixed(2)} (<b>${delta}</b>)${distance}.</p>` +
        (r.ok ? '<p class="ok" id="move-ok">Feasible: every window, capacity and shift is kept.</p>'
              : `<div class="error" id="move-warning" role="alert"><p><b>This move breaks ${r.violations.length} rule(s):</b></p><ul>${r.violations.map(v => `<li>${esc(v.message)}</li>`).join('')}</ul><p>You can still confirm it.</p></div>`);
      confirmBtn.disabled = false;
    } catch (err) { result.innerHTML = `<p class="error" role="alert">${esc(err.message)}</p>`; }
  };
  const open = (orderId, label, toVehicle, pos) => {
    move = { order_id: orderId };
    document.getElementById('move-what').textContent = label;
    vehicleSelect.value = toVehicle; position.value = String(pos + 1);
    dialog.showModal();
    check();
  };
  document.getElementById('move-check').addEventListener('click', check);
  vehicleSelect.addEventListener('change', () => { confirmBtn.disabled = true; result.textContent = ''; });
  position.addEventListener('change', () => { confirmBtn.disabled = true; result.textContent = ''; });
  confirmBtn.addEventListener('click', async () => {
    try {
      await applyMove();
      dialog.close(); toast(running ? 'Stop moved; the driver’s app has it' : 'Stop moved'); setTimeout(() => location.reload(), 400);
    } catch (err) { toast(err.message, 'error'); }
  });
  document.querySelectorAll('.route li button.move').forEach(b => b.addEventListener('click', () => {
    const li = b.closest('li');
    open(li.dataset.order, (li.dataset.label || li.children[1].textContent), li.dataset.vehicle, Number(li.dataset.index));
  }));
  // drag a stop's bar on the timeline: to another row (route), between other bars (place)
  const svg = document.getElementById('timeline');
  let grab = null;
  svg?.querySelectorAll('rect.tl-bar[data-order]').forEach(bar => {
    bar.style.cursor = 'grab';
    bar.addEventListener('pointerdown', (e) => {
      grab = { bar, x: e.clientX, y: e.clientY };
      bar.setPointerCapture(e.pointerId);
    });
  });
  svg?.addEventListener('pointermove', (e) => {
    if (grab) grab.bar.setAttribute('transform', `translate(${e.clientX - grab.x},${e.clientY - grab.y})`);
  });
  svg?.addEventListener('pointerup', (e) => {
    if (!grab) return;
    const { bar, x, y } = grab;
    grab = null;
    bar.removeAttribute('transform');
    if (Math.abs(e.clientX - x) + Math.abs(e.clientY - y) < 4) return;  // a click, not a drag
    const point = svg.createSVGPoint();
    point.x = e.clientX; point.y = e.clientY;
    const p = point.matrixTransform(svg.getScreenCTM().inverse());
    const row = [...svg.querySelectorAll('g.tl-row')].find(g => p.y >= Number(g.dataset.y) && p.y < Number(g.dataset.y) + 34);
    if (!row) return;
    const others = [...row.querySelectorAll('rect.tl-bar[data-order]')].filter(b => b !== bar);
    const pos = others.filter(b => Number(b.getAttribute('x')) + Number(b.getAttribute('width')) / 2 < p.x).length;
    open(bar.dataset.order, bar.dataset.label.split(' ')[1], row.dataset.vehicle, pos);
  });

  // drag and drop in the route lists
  let dragged = null;
  const clearDrop = () => document.querySelectorAll('.drop-before, .drop-end').forEach(el => el.classList.remove('drop-before', 'drop-end'));
  document.addEventListener('dragend', clearDrop);
  document.querySelectorAll('.route li[draggable=true]').forEach(li => {
    li.addEventListener('dragstart', (e) => { dragged = li; e.dataTransfer.setData('text/plain', li.dataset.order); e.dataTransfer.effectAllowed = 'move'; });
    li.addEventListener('dragover', (e) => { if (dragged && dragged !== li) { e.preventDefault(); li.classList.add('drop-before'); } });
    li.addEventListener('dragleave', () => li.classList.remove('drop-before'));
    li.addEventListener('drop', (e) => {
      e.preventDefault(); e.stopPropagation(); clearDrop();
      if (!dragged || dragged === li) return;
      let pos = Number(li.dataset.index);
      if (dragged.dataset.vehicle === li.dataset.vehicle && Number(dragged.dataset.index) < pos) pos -= 1;
      open(dragged.dataset.order, (dragged.dataset.label || dragged.children[1].textContent), li.dataset.vehicle, pos);
    });
  });
  document.querySelectorAll('.route ol.stops').forEach(ol => {
    ol.addEventListener('dragover', (e) => { if (dragged) { e.preventDefault(); ol.classList.add('drop-end'); } });
    ol.addEventListener('dragleave', () => ol.classList.remove('drop-end'));
    ol.addEventListener('drop', (e) => {
      e.preventDefault(); clearDrop();
      if (!dragged) return;
      let pos = ol.querySelectorAll('li[draggable=true]').length;
      if (dragged.dataset.vehicle === ol.dataset.vehicle) pos -= 1;
      open(dragged.dataset.order, (dragged.dataset.label || dragged.children[1].textContent), ol.dataset.vehicle, pos);
    });
  });
}
