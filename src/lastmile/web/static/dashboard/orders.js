import { api, esc, makeMap, toast, showHome, statusWord } from './common.js';

const map = makeMap('map');
const pinLayer = L.layerGroup().addTo(map);
const previewLayer = L.layerGroup().addTo(map);
const markers = new Map();

const fixIcon = L.divIcon({ className: '', html: '<div class="fix-pin"></div>', iconSize: [22, 22], iconAnchor: [11, 22] });

// A saved location shows in the order's row at once (no reload): status, place, verdict.
function showSaved(order) {
  const row = document.querySelector(`#orders-table tr[data-id="${CSS.escape(order.id)}"]`);
  if (!row) return;
  const badge = row.querySelector('.badge[class*="s-"]');
  if (badge) { badge.className = `badge s-${order.status}`; badge.textContent = statusWord(order.status); }
  const cell = row.querySelector('.loc-cell');
  if (cell && order.lon != null) {
    const fix = cell.querySelector('.fix-address');
    cell.innerHTML = `<button type="button" class="link locate" data-id="${esc(order.id)}">${order.lat.toFixed(4)}, ${order.lon.toFixed(4)}</button> <span class="muted verdict">placed on the map</span> `;
    if (fix) { fix.textContent = 'edit'; fix.classList.remove('strong'); cell.appendChild(fix); }
  }
}

function drawPins() {
  pinLayer.clearLayers(); markers.clear();
  const pins = JSON.parse(document.getElementById('page-pins')?.textContent || '[]');
  const bounds = [];
  const unplaced = [];
  for (const p of pins) {
    if (p.lat == null) { unplaced.push(p); continue; }
    addPin(p); bounds.push([p.lat, p.lon]);
  }
  if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
  else if (!previewLayer.getLayers().length) showHome(map);
  // No guess at all: the pin waits in the middle of the map to be dragged to the door.
  for (const p of unplaced) { const c = map.getCenter(); p.lat = c.lat; p.lon = c.lng; addPin(p); }
}

function addPin(p) {
  const options = { draggable: true, title: `${p.external_id} (${p.unresolved ? 'needs fixing' : statusWord(p.status)})`, keyboard: true, autoPan: true };
  if (p.unresolved) options.icon = fixIcon;
  const marker = L.marker([p.lat, p.lon], options)
    .bindPopup(`<b>${esc(p.external_id)}</b><br>${esc(p.address)}<br>${esc(p.verdict_text ?? '')}` +
      (p.unresolved ? `<br>${esc(p.reason ?? '')}<br><i>Drag this pin to the door to place the order.</i>` : ''));
  marker.on('dragend', async () => {
    const { lat, lng } = marker.getLatLng();
    try {
      const order = await api('PATCH', `/api/v1/orders/${encodeURIComponent(p.id)}`, { lon: +lng.toFixed(6), lat: +lat.toFixed(6) });
      toast(`${p.external_id}: location saved`);
      p.lat = lat; p.lon = lng;
      if (p.unresolved) { p.unresolved = false; marker.setIcon(new L.Icon.Default()); }
      showSaved(order);
      wireRowButtons();
    } catch (e) {
      marker.setLatLng([p.lat, p.lon]);
      toast(`${p.external_id}: ${e.message}`, 'error');
    }
  });
  marker.addTo(pinLayer); markers.set(p.id, marker);
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
      toast(`${r.changed} order(s) now ${statusWord(r.status)}`);
      htmx.trigger('#filters', 'submit');
    } catch (err) { toast(err.message, 'error'); }
  });
  wireRowButtons();
  document.querySelectorAll('#orders-table .log-contact').forEach(b => b.addEventListener('click', () => {
    contact.dataset.id = b.dataset.id;
    contact.dataset.ext = b.dataset.ext;
    document.getElementById('contact-order').textContent = b.dataset.ext;
    document.getElementById('contact-note').value = '';
    contact.showModal();
  }));
  drawPins();
}

function wireRowButtons() {
  document.querySelectorAll('#orders-table .locate').forEach(b => { b.onclick = () => {
    const m = markers.get(b.dataset.id);
    if (m) { map.setView(m.getLatLng(), 16); m.openPopup(); }
  }; });
  document.querySelectorAll('#orders-table .fix-address').forEach(b => { b.onclick = () => openFix(b); });
}

// Fixing an address: the geocoder's verdict and reason, its suggestions (one click each),
// or a new address text that is checked again when saved.
const fix = document.getElementById('fix-dialog');
const fixVerdict = document.getElementById('fix-verdict');
const fixInput = document.getElementById('fix-address');
const fixList = document.getElementById('fix-suggestions');
const VERDICT_WORDS = {
  exact: 'Address checked: it is on the map.', corrected: 'Address found after a correction.',
  ambiguous: 'Several places match this address.', not_found: 'This address is not on the map.',
  outside_area: 'This address is outside your map area.',
};

async function checkAddress(text) {
  fixList.innerHTML = '<li class="muted">Checking…</li>';
  let answer;
  try { answer = await api('GET', `/api/v1/geocode?q=${encodeURIComponent(text)}`); }
  catch (err) { fixList.innerHTML = `<li class="error">${esc(err.message)}</li>`; return; }
  const options = answer.address ? [{ address: answer.address, lon: answer.lon, lat: answer.lat }] : [];
  options.push(...answer.candidates.filter(c => c.address !== answer.address));
  fixList.innerHTML = options.length ? options.slice(0, 6).map((c, i) =>
    `<li><button type="button" class="use-suggestion" data-i="${i}">Use this</button> ${esc(c.address)}</li>`).join('')
    : '<li class="muted">No suggestions: edit the address, or drag the pin.</li>';
  fixList.querySelectorAll('.use-suggestion').forEach(btn => btn.addEventListener('click', async () => {
    const c = options[+btn.dataset.i];
    try {
      const order = await api('PATCH', `/api/v1/orders/${encodeURIComponent(fix.dataset.id)}`, { address: c.address, lon: c.lon, lat: c.lat });
      fix.close();
      toast(`${fix.dataset.ext}: ${c.address}`);
      showSaved(order);
      htmx.trigger('#filters', 'submit');
    } catch (err) { toast(err.message, 'error'); }
  }));
  return answer;
}

async function openFix(button) {
  fix.dataset.id = button.dataset.id;
  fix.dataset.ext = button.dataset.ext;
  document.getElementById('fix-order').textContent = button.dataset.ext;
  fixInput.value = button.dataset.address;
  fix.showModal();
  const answer = await checkAddress(button.dataset.address);
  if (answer) fixVerdict.textContent = verdictWords(answer);
}

/** The verdict in a sentence, with the geocoder's reason: one candidate in another town is
 * not "several places". */
function verdictWords(answer) {
  const words = VERDICT_WORDS[answer.verdict] ?? answer.verdict;
  if (!answer.reason || answer.address) return words;
  if (answer.candidates.length === 1) return `${answer.reason[0].toUpperCase()}${answer.reason.slice(1)}.`;
  return `${words.replace(/\.$/, '')}: ${answer.reason}.`;
}

document.getElementById('fix-close').addEventListener('click', () => fix.close());
document.getElementById('fix-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const order = await api('PATCH', `/api/v1/orders/${encodeURIComponent(fix.dataset.id)}`, { address: fixInput.value });
    if (order.lon != null) {
      fix.close();
      toast(`${fix.dataset.ext}: address found and saved`);
      showSaved(order);
      htmx.trigger('#filters', 'submit');
      return;
    }
    fixVerdict.textContent = `Saved, but: ${VERDICT_WORDS[order.address_verdict] ?? 'not checked yet.'}`;
    await checkAddress(fixInput.value);
    htmx.trigger('#filters', 'submit');
  } catch (err) { fixVerdict.textContent = err.message; }
});

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
        .bindPopup(`<b>${esc(r.external_id)}</b> (row ${r.row})<br>${esc(r.address)}<br>${esc(r.verdict_text)}`).addTo(previewLayer);
      bounds.push([r.lat, r.lon]);
    }
    const errors = r.errors.map(x => `${esc(x.field ?? '')}: ${esc(x.message)}`).join('<br>');
    const valid = r.status === 'invalid' ? 'invalid' : 'valid';
    const where = r.unresolved ? `<span class="badge unresolved">needs fixing</span> ${esc(r.verdict_text)}` : esc(r.verdict_text);
    return `<tr class="${valid}${r.unresolved ? ' unresolved-row' : ''}"><td>${r.row}</td><td>${esc(r.external_id ?? '')}</td>` +
      `<td><span class="badge v-${valid}">${valid}</span> <span class="muted">${r.status !== 'invalid' ? esc(r.status) : ''}</span></td>` +
      `<td>${esc(r.address)}</td><td>${where}${r.reason ? `<br><span class="muted small">${esc(r.reason)}</span>` : ''}</td><td class="error">${errors}</td></tr>`;
  }).join('');
  if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
  const ok = report.invalid === 0;
  const good = report.rows.length - report.invalid;
  preview.innerHTML =
    `<p id="preview-summary" class="${ok ? 'ok' : 'error'}">${ok ? 'All rows valid' : `${report.invalid} invalid row(s)`} — ` +
    `${report.created} new, ${report.updated} changed, ${report.unchanged} unchanged. Nothing saved yet.</p>` +
    (report.unresolved ? `<p class="warn" id="preview-unresolved">${report.unresolved} address(es) need fixing after the import (see the list).</p>` : '') +
    (report.warnings || []).map(w => `<p class="warn">${esc(w)}</p>`).join('') +
    `<table class="grid" id="preview-table"><caption class="sr-only">Import preview</caption><thead><tr><th>Row</th><th>Order number</th><th>Row check</th><th>Address</th><th>Address check</th><th>Problems</th></tr></thead><tbody>${rows}</tbody></table>` +
    (ok ? '' : `<p><label class="check"><input type="checkbox" id="skip-invalid"> Skip the ${report.invalid} invalid row(s) and import the other ${good}</label></p>`) +
    `<button type="button" class="primary" id="import-btn" ${ok ? '' : 'disabled'}>Import ${ok ? report.rows.length : good} row(s)</button>`;
  const skip = document.getElementById('skip-invalid');
  skip?.addEventListener('change', () => { document.getElementById('import-btn').disabled = !skip.checked || good === 0; });
  document.getElementById('import-btn').addEventListener('click', async () => {
    const params = new URLSearchParams();
    const date = data.get('date');
    if (date) params.set('date', date);
    if (skip?.checked) params.set('skip_invalid', 'true');
    try {
      const r = await api('POST', `/api/v1/orders/import${params.size ? '?' + params : ''}`, data);
      preview.innerHTML = `<p class="ok" id="import-done">Imported: ${r.created} new, ${r.updated} changed, ${r.unchanged} unchanged` +
        `${r.invalid ? `; ${r.invalid} invalid row(s) skipped` : ''}.</p>`;
      previewLayer.clearLayers();
      htmx.trigger('#filters', 'submit');
    } catch (err) { toast(err.message, 'error'); }
  });
});
