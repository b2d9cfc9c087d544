import { api, esc, makeMap, toast, showHome } from './common.js';

const map = makeMap('map');
const pinLayer = L.layerGroup().addTo(map);
const previewLayer = L.layerGroup().addTo(map);
const markers = new Map();

function drawPins() {
  pinLayer.clearLayers(); markers.clear();
  const pins = JSON.parse(document.getElementById('page-pins')?.textContent || '[]');
  const bounds = [];
  for (const p of pins) {
    const marker = L.marker([p.lat, p.lon], { draggable: true, title: `${p.external_id} (${p.status})`, keyboard: true, autoPan: true })
      .bindPopup(`<b>${esc(p.external_id)}</b><br>${esc(p.address)}<br>${esc(p.status)} · ${esc(p.verdict ?? '')}`);
    marker.on('dragend', async () => {
      const { lat, lng } = marker.getLatLng();
      try {
        await api('PATCH', `/api/v1/orders/${encodeURIComponent(p.id)}`, { lon: +lng.toFixed(6), lat: +lat.toFixed(6) });
        toast(`${p.external_id}: location saved`);
        p.lat = lat; p.lon = lng;
      } catch (e) {
        marker.setLatLng([p.lat, p.lon]);
        toast(`${p.external_id}: ${e.message}`, 'error');
      }
    });
    marker.addTo(pinLayer); markers.set(p.id, marker);
    bounds.push([p.lat, p.lon]);
  }
  if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
  else if (!previewLayer.getLayers().length) showHome(map);
}

function selected() {
  return [...document.querySelectorAll('#orders-table .pick:checked')].map(c => c.value);
}

function wireTable() {
  const count = document.getElementById('selected-count');
  const all = document.getElementById('all-matching');
  const form = document.getElementById('bulk');
  const update = () => {
    count.textContent = all.checked ? `all ${form.dataset.total} matching` : `${selected().length} selected`;
  };
  document.getElementById('select-page')?.addEventListener('change', (e) => {
    document.querySelectorAll('#orders-table .pick').forEach(c => { c.checked = e.target.checked; });
    update();
  });
  document.querySelectorAll('#orders-table .pick').forEach(c => c.addEventListener('change', update));
  all.addEventListener('change', update);
  const action = document.getElementById('bulk-action');
  const dateLabel = form.querySelector('.reschedule-date');
  const showDate = () => { dateLabel.hidden = action.value !== 'reschedule'; };
  action.addEventListener('change', showDate); showDate();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const ids = selected();
    if (!all.checked && !ids.length) { toast('Select orders first', 'error'); return; }
    const body = {
      action: action.value, order_ids: all.checked ? [] : ids, all_matching: all.checked,
      filter_date: form.dataset.date, filter_status: form.dataset.status, filter_q: form.dataset.q,
    };
    if (action.value === 'reschedule' && document.getElementById('bulk-date').value) body.new_date = document.getElementById('bulk-date').value;
    const n = all.checked ? form.dataset.total : ids.length;
    if (!confirm(`${action.options[action.selectedIndex].text}: ${n} order(s)?`)) return;
    try {
      const r = await api('POST', '/app/api/orders/bulk', body);
      toast(`${r.changed} order(s) now ${r.status}`);
      htmx.trigger('#filters', 'submit');
    } catch (err) { toast(err.message, 'error'); }
  });
  document.querySelectorAll('#orders-table .locate').forEach(b => b.addEventListener('click', () => {
    const m = markers.get(b.dataset.id);
    if (m) { map.setView(m.getLatLng(), 16); m.openPopup(); }
  }));
  // The keyboard way to fix a location: type "lat, lon" (the same PATCH as dragging a pin).
  document.querySelectorAll('#orders-table .set-location').forEach(b => b.addEventListener('click', async () => {
    const typed = prompt(`Location of ${b.dataset.ext} as "latitude, longitude"`, b.dataset.value);
    if (typed === null) return;
    const parts = typed.split(',').map(x => Number(x.trim()));
    if (parts.length !== 2 || parts.some(x => !Number.isFinite(x))) { toast('Type two numbers: latitude, longitude', 'error'); return; }
    try {
      await api('PATCH', `/api/v1/orders/${encodeURIComponent(b.dataset.id)}`, { lat: parts[0], lon: parts[1] });
      toast(`${b.dataset.ext}: location saved`);
      htmx.trigger('#filters', 'submit');
    } catch (err) { toast(err.message, 'error'); }
  }));
  document.querySelectorAll('#orders-table .log-contact').forEach(b => b.addEventListener('click', () => {
    contact.dataset.id = b.dataset.id;
    contact.dataset.ext = b.dataset.ext;
    document.getElementById('contact-order').textContent = b.dataset.ext;
    document.getElementById('contact-note').value = '';
    contact.showModal();
  }));
  drawPins();
}

// A customer asked where their order is: log it (the contacts KPI counts these).
const contact = document.getElementById('contact-dialog');
document.getElementById('contact-cancel').addEventListener('click', () => contact.close());
document.getElementById('contact-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { channel: document.getElementById('contact-channel').value, note: document.getElementById('contact-note').value };
  try {
    await api('POST', `/api/v1/orders/${encodeURIComponent(contact.dataset.id)}/contacts`, body);
    contact.close();
    toast(`${contact.dataset.ext}: contact logged`);
  } catch (err) { toast(err.message, 'error'); }
});

document.body.addEventListener('htmx:afterSettle', () => wireTable());
wireTable();

// Import: dry run first (nothing saved), every row's verdict and pins; then Import.
const importForm = document.getElementById('import-form');
const preview = document.getElementById('preview');
importForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const data = new FormData(importForm);
  preview.innerHTML = '<p class="muted">Checking…</p>';
  previewLayer.clearLayers();
  let report;
  try { report = await api('POST', '/app/api/orders/preview', data); }
  catch (err) { preview.innerHTML = `<p class="error" role="alert">${esc(err.message)}</p>`; return; }
  const bounds = [];
  const rows = report.rows.map(r => {
    if (r.lat != null) {
      L.circleMarker([r.lat, r.lon], { radius: 7, color: '#0b5394', weight: 3, fillColor: '#fff', fillOpacity: 1 })
        .bindPopup(`<b>${esc(r.external_id)}</b> (row ${r.row})<br>${esc(r.address)}<br>${esc(r.status)}`).addTo(previewLayer);
      bounds.push([r.lat, r.lon]);
    }
    const errors = r.errors.map(x => `${esc(x.field ?? '')}: ${esc(x.message)}`).join('<br>');
    const verdict = r.status === 'invalid' ? 'invalid' : 'valid';
    return `<tr class="${verdict}"><td>${r.row}</td><td>${esc(r.external_id ?? '')}</td>` +
      `<td><span class="badge v-${verdict}">${verdict}</span> <span class="muted">${r.status !== 'invalid' ? esc(r.status) : ''}</span></td>` +
      `<td>${esc(r.address)}</td><td>${esc(r.verdict)}</td><td class="error">${errors}</td></tr>`;
  }).join('');
  if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
  const ok = report.invalid === 0;
  preview.innerHTML =
    `<p id="preview-summary" class="${ok ? 'ok' : 'error'}">${ok ? 'All rows valid' : `${report.invalid} invalid row(s): nothing will be imported until they are fixed`} — ` +
    `${report.created} new, ${report.updated} changed, ${report.unchanged} unchanged. Nothing saved yet.</p>` +
    (report.warnings || []).map(w => `<p class="warn">${esc(w)}</p>`).join('') +
    `<table class="grid" id="preview-table"><caption class="sr-only">Import preview</caption><thead><tr><th>Row</th><th>Id</th><th>Verdict</th><th>Address</th><th>Location</th><th>Problems</th></tr></thead><tbody>${rows}</tbody></table>` +
    `<button type="button" class="primary" id="import-btn" ${ok ? '' : 'disabled'}>Import ${report.rows.length} row(s)</button>`;
  document.getElementById('import-btn').addEventListener('click', async () => {
    const date = data.get('date');
    try {
      const r = await api('POST', `/api/v1/orders/import${date ? '?date=' + encodeURIComponent(date) : ''}`, data);
      preview.innerHTML = `<p class="ok" id="import-done">Imported: ${r.created} new, ${r.updated} changed, ${r.unchanged} unchanged.</p>`;
      previewLayer.clearLayers();
      htmx.trigger('#filters', 'submit');
    } catch (err) { toast(err.message, 'error'); }
  });
});
