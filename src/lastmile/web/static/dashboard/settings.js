import { api, esc, makeMap, showHome, toast } from './common.js';

// Forms over the JSON API: fields named "a.b" become nested objects; data-type casts.
function payload(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.value === '') continue;
    let value = el.value;
    if (el.dataset.type === 'number') value = Number(value);
    if (el.dataset.type === 'minutes') value = Math.round(Number(value) * 60);
    if (el.dataset.type === 'list') value = value.split(',').map(s => s.trim()).filter(Boolean);
    const path = el.name.split('.');
    let target = body;
    for (const key of path.slice(0, -1)) target = (target[key] ??= {});
    target[path.at(-1)] = value;
  }
  return body;
}

document.querySelectorAll('form[data-api]').forEach(form => form.addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const created = await api(form.dataset.method || 'POST', form.dataset.api, payload(form));
    if (form.dataset.show && created[form.dataset.show]) {
      prompt('Copy it now — it is shown only once:', created[form.dataset.show]);
    }
    location.reload();
  } catch (err) { toast(err.message, 'error'); }
}));
document.querySelectorAll('[data-delete]').forEach(b => b.addEventListener('click', async () => {
  if (!confirm('Delete it?')) return;
  try { await api('DELETE', b.dataset.delete); location.reload(); } catch (err) { toast(err.message, 'error'); }
}));
document.querySelectorAll('[data-patch]').forEach(b => b.addEventListener('click', async () => {
  try { await api('PATCH', b.dataset.patch, JSON.parse(b.dataset.body)); location.reload(); } catch (err) { toast(err.message, 'error'); }
}));

const data = (id) => JSON.parse(document.getElementById(id)?.textContent || '[]');

// --- depot: find the address with the offline geocoder, then fine-tune the pin -----------
const depotForm = document.getElementById('depot-form');
if (depotForm) {
  const map = makeMap('depot-map');
  showHome(map);
  for (const d of data('depots-data')) {
    L.circleMarker([d.lat, d.lon], { radius: 7, color: '#15324d', fillOpacity: 0.8 }).addTo(map);
  }
  let pin = null;
  const lon = document.getElementById('depot-lon');
  const lat = document.getElementById('depot-lat');
  const where = document.getElementById('depot-where');
  const save = document.getElementById('depot-save');
  const place = (latlng, label) => {
    lon.value = latlng.lng.toFixed(6); lat.value = latlng.lat.toFixed(6);
    if (!pin) {
      pin = L.marker(latlng, { draggable: true, title: 'New depot', keyboard: true }).addTo(map);
      pin.on('dragend', () => place(pin.getLatLng(), 'Moved by hand'));
    } else pin.setLatLng(latlng);
    where.textContent = `${label}: ${lat.value}, ${lon.value}. Drag the pin to the exact door if needed.`;
    save.disabled = false;
  };
  const list = document.getElementById('depot-candidates');
  const search = async () => {
    const q = document.getElementById('depot-address').value.trim();
    list.innerHTML = '';
    if (q.length < 3) { toast('Type the street, number and town first.', 'error'); return; }
    try {
      const answer = await api('GET', `/api/v1/geocode?q=${encodeURIComponent(q)}`);
      const found = answer.candidates.length ? answer.candidates
        : (answer.lon != null ? [{ address: answer.address, lon: answer.lon, lat: answer.lat }] : []);
      if (!found.length) {
        list.innerHTML = '<li class="muted">Not found in the map data. Check the spelling, or click the map where the depot is.</li>';
        return;
      }
      list.innerHTML = found.slice(0, 5).map((c, i) =>
        `<li><button type="button" class="link" data-i="${i}">${esc(c.address)}</button></li>`).join('');
      list.querySelectorAll('button').forEach(b => b.addEventListener('click', () => {
        const c = found[Number(b.dataset.i)];
        document.getElementById('depot-address').value = c.address;
        list.innerHTML = '';
        map.setView([c.lat, c.lon], 17);
        place(L.latLng(c.lat, c.lon), 'Found');
      }));
      if (found.length === 1) list.querySelector('button').click();
    } catch (err) { toast(err.message, 'error'); }
  };
  document.getElementById('depot-search').addEventListener('click', search);
  document.getElementById('depot-address').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); search(); }
  });
  map.on('click', (e) => place(e.latlng, 'Placed by hand'));
  depotForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: depotForm.elements.name.value, address: depotForm.elements.address.value,
      lon: Number(lon.value), lat: Number(lat.value) };
    try { await api('POST', '/api/v1/depots', body); location.reload(); } catch (err) { toast(err.message, 'error'); }
  });
}

// --- vehicles: one dialog to add or edit ---------------------------------------------------
const dialog = document.getElementById('vehicle-dialog');
const vform = document.getElementById('vehicle-form');
const vehicles = data('vehicles-data');
const depots = data('depots-data');
let editing = null;

function fill(v) {
  const f = vform.elements;
  editing = v;
  f.name.value = v?.name ?? '';
  f.external_id.value = v?.external_id ?? `VAN-${vehicles.length + 1}`;
  f.profile.value = v?.profile ?? 'van';
  f.parcels.value = v?.capacity?.parcels ?? (v ? '' : 100);
  f.weight_kg.value = v?.capacity?.weight_kg ?? '';
  if (v?.depot_id) f.depot_id.value = v.depot_id;
  let end = 'back';
  if (v?.open_end) end = 'open';
  else if (v?.end) {
    const d = depots.find(x => x.lon === v.end.lon && x.lat === v.end.lat);
    end = d ? `depot:${d.id}` : 'back';
  }
  f.end.value = end;
  f.shift_start.value = v?.shift.start ?? '08:00';
  f.shift_end.value = v?.shift.end ?? '18:00';
  f.break_minutes.value = v?.break ? Math.round(v.break.minutes) : 0;
  f.break_start.value = v?.break?.start ?? '12:00';
  f.break_end.value = v?.break?.end ?? '14:00';
  f.cost_per_km.value = v?.cost_per_km ?? 0;
  f.cost_per_hour.value = v?.cost_per_hour ?? 0;
  f.fixed_cost.value = v?.fixed_cost ?? 0;
  document.getElementById('vehicle-dialog-h').textContent = v ? `Edit ${v.name || v.external_id}` : 'Add a vehicle';
  document.getElementById('vehicle-error').textContent = '';
  dialog.showModal();
}

function vehicleBody() {
  const f = vform.elements;
  const capacity = {};
  if (f.parcels.value !== '') capacity.parcels = Number(f.parcels.value);
  if (f.weight_kg.value !== '') capacity.weight_kg = Number(f.weight_kg.value);
  const body = {
    name: f.name.value.trim(), external_id: f.external_id.value.trim(), profile: f.profile.value,
    depot_id: f.depot_id.value || null, start: null,
    shift: { start: f.shift_start.value, end: f.shift_end.value },
    capacity,
    cost_per_km: Number(f.cost_per_km.value || 0), cost_per_hour: Number(f.cost_per_hour.value || 0),
    fixed_cost: Number(f.fixed_cost.value || 0),
    open_end: f.end.value === 'open', end: null,
    break: Number(f.break_minutes.value) > 0
      ? { start: f.break_start.value, end: f.break_end.value, minutes: Number(f.break_minutes.value) } : null,
  };
  if (f.end.value.startsWith('depot:')) {
    const d = depots.find(x => x.id === f.end.value.slice(6));
    if (d) body.end = { lon: d.lon, lat: d.lat };
  }
  if (!editing && body.break === null) delete body.break;
  return body;
}

document.getElementById('vehicle-add')?.addEventListener('click', () => fill(null));
document.querySelectorAll('[data-edit-vehicle]').forEach(b => b.addEventListener('click', () => {
  fill(vehicles.find(v => v.id === b.dataset.editVehicle));
}));
document.getElementById('vehicle-cancel')?.addEventListener('click', () => dialog.close());
vform?.addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    if (editing) await api('PATCH', `/api/v1/vehicles/${editing.id}`, vehicleBody());
    else await api('POST', '/api/v1/vehicles', vehicleBody());
    dialog.close();
    location.reload();
  } catch (err) { document.getElementById('vehicle-error').textContent = err.message; }
});
// A customer's erasure: first find their orders (dry run), then confirm, then erase.
document.querySelectorAll('form[data-erase]').forEach(form => form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const who = payload(form);
  try {
    const found = await api('POST', form.dataset.erase, { ...who, dry_run: true });
    if (!found.order_ids.length) { toast('No orders of this customer: nothing to erase.'); return; }
    if (!confirm(`Erase the personal data of ${found.order_ids.length} orders? This cannot be undone.`)) return;
    const done = await api('POST', form.dataset.erase, who);
    toast(`Erased: ${done.order_ids.length} orders, ${done.pod_files} photos and signatures, ${done.messages} messages.`);
    form.reset();
  } catch (err) { toast(err.message, 'error'); }
}));

// --- proof of delivery: the allowed ways, the usual one first ------------------------------
document.getElementById('pod-form')?.addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const allowed = [...form.querySelectorAll('input[name=allowed]:checked')].map(i => i.value);
  const usual = form.querySelector('input[name=usual]:checked')?.value;
  if (!allowed.length) { toast('Allow at least one way of handing over.', 'error'); return; }
  const policy = allowed.includes(usual) ? [usual, ...allowed.filter(w => w !== usual)] : allowed;
  try {
    await api('PATCH', '/api/v1/organisation', { pod_policy: policy });
    toast('Saved: drivers get it with their next route update.');
  } catch (err) { toast(err.message, 'error'); }
});

// --- drivers: add one, with the login for the driver app in the same form -----------------
const loginDialog = document.getElementById('login-dialog');
async function giveLogin(driverId, name, email) {
  const login = await api('POST', `/api/v1/drivers/${driverId}/login`, { email });
  document.getElementById('login-who').textContent = name;
  document.getElementById('login-qr').innerHTML = login.qr_svg;  // SVG drawn by the server
  document.getElementById('login-url').value = login.accept_url;
  document.getElementById('login-mailed').hidden = !login.emailed;
  loginDialog.showModal();
}
document.getElementById('login-copy')?.addEventListener('click', async () => {
  const input = document.getElementById('login-url');
  input.select();
  try { await navigator.clipboard.writeText(input.value); toast('Link copied.'); } catch { toast('Select the link and copy it.'); }
});
document.getElementById('login-close')?.addEventListener('click', () => { loginDialog.close(); location.reload(); });
document.getElementById('driver-form')?.addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target.elements;
  const body = { name: f.name.value.trim(), phone: f.phone.value.trim(), vehicle_id: f.vehicle_id.value || null };
  const email = f.email?.value.trim();
  try {
    const driver = await api('POST', '/api/v1/drivers', body);
    if (email) await giveLogin(driver.id, driver.name, email);
    else location.reload();
  } catch (err) { toast(err.message, 'error'); }
});
document.querySelectorAll('[data-login]').forEach(b => b.addEventListener('click', async () => {
  const email = prompt(`E-mail ${b.dataset.name} logs in with:`);
  if (!email) return;
  try { await giveLogin(b.dataset.login, b.dataset.name, email.trim()); } catch (err) { toast(err.message, 'error'); }
}));
