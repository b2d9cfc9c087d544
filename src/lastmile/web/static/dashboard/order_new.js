// Adding one order by hand: the address is checked by the same offline geocoder as imports
// (GET /api/v1/geocode), its verdict said in words, its suggestions one click each, and the
// pin can be dragged to the door. The form itself is posted by htmx (templates/order_new.html).
import { api, esc, makeMap, showHome } from './common.js';

const map = makeMap('new-map');
showHome(map);
const input = document.getElementById('n-address');
const verdict = document.getElementById('n-verdict');
const list = document.getElementById('n-suggestions');
const lon = document.getElementById('n-lon');
const lat = document.getElementById('n-lat');
let pin = null;

const VERDICT_WORDS = {
  exact: 'Found: this address is on the map.',
  corrected: 'Found after a correction',
  ambiguous: 'Several places match: pick the right one.',
  not_found: 'This address is not on the map: check the spelling, pick a suggestion, or click the map where it is.',
  outside_area: 'This address is outside your map area.',
};

function place(latlng, text) {
  if (!pin) {
    pin = L.marker(latlng, { draggable: true, title: 'The order', keyboard: true }).addTo(map);
    pin.on('dragend', () => { const p = pin.getLatLng(); setPlace(p.lat, p.lng); verdict.textContent = 'Placed by hand on the map.'; });
  } else pin.setLatLng(latlng);
  map.setView(latlng, Math.max(map.getZoom(), 16));
  setPlace(latlng[0], latlng[1]);
  if (text) input.value = text;
}

function setPlace(la, lo) { lat.value = (+la).toFixed(6); lon.value = (+lo).toFixed(6); }
function clearPlace() { lat.value = ''; lon.value = ''; }

async function search(auto = false) {
  const q = input.value.trim();
  if (q.length < 3) { verdict.textContent = 'Type at least the street and the town.'; return; }
  verdict.textContent = 'Checking…';
  let answer;
  try { answer = await api('GET', `/api/v1/geocode?q=${encodeURIComponent(q)}`); }
  catch (err) { verdict.textContent = err.message; verdict.className = 'wide small error'; return; }
  const ok = answer.verdict === 'exact' || answer.verdict === 'corrected';
  let words = VERDICT_WORDS[answer.verdict] ?? answer.verdict;
  if (answer.verdict === 'corrected' && answer.changes.length) words += ` (${answer.changes.join('; ')})`;
  if (!ok && answer.reason) words += ` ${answer.reason}`;
  verdict.textContent = words;
  verdict.className = `wide small ${ok ? 'ok' : 'warn'}`;
  const options = answer.address ? [{ address: answer.address, lon: answer.lon, lat: answer.lat }] : [];
  options.push(...answer.candidates.filter(c => c.address !== answer.address));
  list.innerHTML = options.slice(0, 6).map((c, i) =>
    `<li><button type="button" class="use-suggestion" data-i="${i}">Use this</button> ${esc(c.address)}</li>`).join('');
  list.querySelectorAll('.use-suggestion').forEach(b => b.addEventListener('click', () => {
    const c = options[+b.dataset.i];
    place([c.lat, c.lon], c.address);
    verdict.textContent = `Chosen: ${c.address}`;
    verdict.className = 'wide small ok';
    list.innerHTML = '';
  }));
  if (ok) place([answer.lat, answer.lon], auto ? undefined : answer.address);
  else clearPlace();
}

document.getElementById('n-search').addEventListener('click', () => search());
input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); search(); } });
input.addEventListener('input', () => clearPlace());
// Suggestions while typing (a pause of half a second), like a search box.
let timer = null;
input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { if (input.value.trim().length >= 6) search(true); }, 600); });
map.on('click', (e) => { place([e.latlng.lat, e.latlng.lng]); verdict.textContent = 'Placed by hand on the map.'; verdict.className = 'wide small ok'; });
// A saved order leaves the form ready for the next one (new number, same day).
document.body.addEventListener('htmx:afterSwap', (e) => {
  if (e.target.id === 'added' && document.getElementById('add-done')) {
    document.getElementById('n-save').disabled = true;
    document.getElementById('add-another')?.focus();
  }
});
