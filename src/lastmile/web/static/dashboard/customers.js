// The address book pages: add a customer, edit one, add / confirm / move / remove addresses,
// and make an order for an address (all through /api/v1/customers).
import { api, esc, makeMap, parseWindows, showHome, toast } from './common.js';

function fields(form) {
  return Object.fromEntries([...new FormData(form).entries()].map(([k, v]) => [k, String(v).trim()]));
}

async function submitting(form, work) {
  const button = form.querySelector('button[type="submit"]');
  if (button) button.disabled = true;
  try { await work(); } catch (e) { toast(e.message, 'error'); } finally { if (button) button.disabled = false; }
}

// --- the list: add a customer ------------------------------------------------------------
const newCustomer = document.getElementById('new-customer');
newCustomer?.addEventListener('submit', (event) => {
  event.preventDefault();
  submitting(newCustomer, async () => {
    const f = fields(newCustomer);
    const body = { name: f.name, phone: f.phone, email: f.email, notes: f.notes, preferred_windows: parseWindows(f.windows) };
    if (f.address) body.addresses = [{ address: f.address, instructions: f.instructions }];
    const customer = await api('POST', '/api/v1/customers', body);
    window.location.href = `/app/customers/${encodeURIComponent(customer.id)}`;
  });
});

// --- one customer ------------------------------------------------------------------------
const data = document.getElementById('customer-data');
if (data) {
  const customer = JSON.parse(data.textContent);
  const base = `/api/v1/customers/${encodeURIComponent(customer.id)}`;
  const reload = () => window.location.reload();

  const details = document.getElementById('customer-details');
  details.addEventListener('submit', (event) => {
    event.preventDefault();
    submitting(details, async () => {
      const f = fields(details);
      await api('PATCH', base, { name: f.name, phone: f.phone, email: f.email, notes: f.notes, preferred_windows: parseWindows(f.windows) });
      toast('Saved');
      document.getElementById('customer-name').textContent = f.name;
    });
  });
  document.getElementById('delete-customer').addEventListener('click', async () => {
    if (!window.confirm(`Delete ${customer.name} and their addresses? Their orders stay.`)) return;
    try { await api('DELETE', base); window.location.href = '/app/customers'; } catch (e) { toast(e.message, 'error'); }
  });

  const newAddress = document.getElementById('new-address');
  newAddress.addEventListener('submit', (event) => {
    event.preventDefault();
    submitting(newAddress, async () => {
      const a = await api('POST', `${base}/addresses`, fields(newAddress));
      toast(a.lon == null ? 'Saved; the map could not place it: drag the orange pin to the door' : 'Saved and found on the map: confirm the pin');
      reload();
    });
  });
  for (const button of document.querySelectorAll('.confirm-pin')) {
    button.addEventListener('click', async () => {
      try { await api('PATCH', `${base}/addresses/${encodeURIComponent(button.dataset.id)}`, { confirmed: true }); reload(); } catch (e) { toast(e.message, 'error'); }
    });
  }
  for (const button of document.querySelectorAll('.edit-address')) {
    button.addEventListener('click', () => {
      const row = document.querySelector(`.address-editor[data-for="${CSS.escape(button.dataset.id)}"]`);
      row.hidden = !row.hidden;
      if (!row.hidden) row.querySelector('input[name=address]').focus();
    });
  }
  for (const editor of document.querySelectorAll('.edit-address-form')) {
    editor.addEventListener('submit', (event) => {
      event.preventDefault();
      submitting(editor, async () => {
        const a = await api('PATCH', `${base}/addresses/${encodeURIComponent(editor.dataset.id)}`, fields(editor));
        toast(a.confirmed ? 'Saved' : (a.lon == null ? 'Saved; the map could not place it: drag the orange pin to the door' : 'Saved and looked up again: confirm the pin'));
        reload();
      });
    });
  }
  for (const button of document.querySelectorAll('.delete-address')) {
    button.addEventListener('click', async () => {
      if (!window.confirm('Remove this address?')) return;
      try { await api('DELETE', `${base}/addresses/${encodeURIComponent(button.dataset.id)}`); reload(); } catch (e) { toast(e.message, 'error'); }
    });
  }

  const newOrder = document.getElementById('new-order');
  newOrder?.addEventListener('submit', (event) => {
    event.preventDefault();
    submitting(newOrder, async () => {
      const f = fields(newOrder);
      const body = { address_id: f.address_id, date: f.date, windows: parseWindows(f.windows), description: f.description, notes: f.notes };
      const made = await api('POST', `${base}/orders`, body);
      window.location.href = `/app/orders/${encodeURIComponent(made.order.id)}`;
    });
  });

  // The map: a pin per address; an unplaced one waits (orange) in the middle to be dragged.
  const map = makeMap('map');
  const pins = JSON.parse(document.getElementById('address-pins').textContent);
  const fixIcon = L.divIcon({ className: '', html: '<div class="fix-pin"></div>', iconSize: [22, 22], iconAnchor: [11, 22] });
  const placed = pins.filter(p => p.lat != null);
  if (placed.length) map.fitBounds(placed.map(p => [p.lat, p.lon]), { padding: [30, 30], maxZoom: 16 });
  else showHome(map);
  for (const p of pins) {
    const unplaced = p.lat == null;
    const at = unplaced ? map.getCenter() : L.latLng(p.lat, p.lon);
    const marker = L.marker(at, { draggable: true, keyboard: true, title: p.label, ...(unplaced || !p.confirmed ? { icon: fixIcon } : {}) })
      .bindPopup(`<b>${esc(p.label)}</b><br>${esc(p.address)}<br><i>Drag the pin to the door to correct it.</i>`)
      .addTo(map);
    marker.getElement()?.setAttribute('data-address-id', p.id);
    marker.on('dragend', async () => {
      const { lat, lng } = marker.getLatLng();
      try {
        await api('PATCH', `${base}/addresses/${encodeURIComponent(p.id)}`, { lon: +lng.toFixed(6), lat: +lat.toFixed(6) });
        toast('Pin saved: orders for this address go there');
        reload();
      } catch (e) { toast(e.message, 'error'); }
    });
  }
}
