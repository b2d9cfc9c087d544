// Multi-day plans: the form starts one (POST /api/v1/plan-weeks); the week page follows its
// progress by polling GET /api/v1/plan-weeks/{id} and shows the days once it is done.
import { api, toast } from './common.js';

const form = document.getElementById('week-form');
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

// The plan's days as the form says (first..last, weekend skipped or not), ISO dates.
function planDays() {
  const out = [];
  const first = new Date(`${form.start.value}T12:00:00Z`);
  const last = new Date(`${form.end.value}T12:00:00Z`);
  if (Number.isNaN(first) || Number.isNaN(last)) return out;
  for (let d = first; d <= last && out.length < 31; d = new Date(d.getTime() + 86400000)) {
    const weekday = (d.getUTCDay() + 6) % 7;  // 0 = Monday
    if (form.skip_weekend.checked && weekday >= 5) continue;
    out.push({ iso: d.toISOString().slice(0, 10), label: WEEKDAYS[weekday] });
  }
  return out;
}

// One row per van, one column per day: a ticked box = the van works that day. Unticked
// boxes survive a change of the dates (remembered by van and date).
const off = new Set();
function drawVehicles() {
  const table = document.getElementById('week-vehicles');
  const vehicles = JSON.parse(table.dataset.vehicles);
  const days = planDays();
  table.tHead.rows[0].innerHTML = '<th>Van</th>';
  for (const d of days) {
    const th = document.createElement('th');
    th.textContent = `${d.label} ${d.iso.slice(5)}`;
    table.tHead.rows[0].append(th);
  }
  table.tBodies[0].replaceChildren(...vehicles.map((v) => {
    const tr = document.createElement('tr');
    const name = document.createElement('td');
    name.textContent = v.name;
    tr.append(name);
    for (const d of days) {
      const td = document.createElement('td');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.className = 'day-vehicle';
      box.dataset.vehicle = v.id;
      box.dataset.date = d.iso;
      box.checked = !off.has(`${v.id}/${d.iso}`);
      box.setAttribute('aria-label', `${v.name} on ${d.label} ${d.iso}`);
      box.addEventListener('change', () => {
        if (box.checked) off.delete(`${v.id}/${d.iso}`); else off.add(`${v.id}/${d.iso}`);
      });
      td.append(box);
      tr.append(td);
    }
    return tr;
  }));
}

if (form) {
  drawVehicles();
  for (const field of [form.start, form.end, form.skip_weekend]) {
    field.addEventListener('change', drawVehicles);
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const perDay = {};
    for (const d of planDays()) perDay[d.iso] = [];
    for (const box of form.querySelectorAll('input.day-vehicle:checked')) {
      perDay[box.dataset.date]?.push(box.dataset.vehicle);
    }
    const empty = Object.entries(perDay).filter(([, ids]) => !ids.length).map(([d]) => d);
    if (empty.length) { toast(`No van on ${empty.join(', ')}: tick one, or leave the day out`, 'error'); return; }
    const balance = Number(form.balance_pct.value);
    const body = {
      start: form.start.value, end: form.end.value, day_vehicle_ids: perDay,
      skip_weekdays: form.skip_weekend.checked ? [6, 7] : [],
      balance_pct: balance, time_limit_s: Number(form.time_limit_s.value),
      route_balance_pct: form.route_balance.checked ? balance : null,
    };
    const button = document.getElementById('run-week');
    button.disabled = true;
    try {
      const created = await api('POST', '/api/v1/plan-weeks', body);
      location.href = `/app/plan-weeks/${encodeURIComponent(created.id)}`;
    } catch (err) {
      toast(err.message, 'error');
      button.disabled = false;
    }
  });
}

const week = document.getElementById('week');
if (week && ['queued', 'running'].includes(week.dataset.status)) {
  const bar = document.getElementById('week-progress');
  const label = document.getElementById('week-progress-label');
  const poll = async () => {
    try {
      const state = await api('GET', `/api/v1/plan-weeks/${encodeURIComponent(week.dataset.weekId)}`);
      const pct = Math.round(state.progress * 100);
      bar.setAttribute('aria-valuenow', String(pct));
      bar.firstElementChild.style.width = `${pct}%`;
      label.textContent = state.status === 'running' ? `Optimising… ${pct} %` : 'Queued…';
      if (state.status === 'done' || state.status === 'failed') { location.reload(); return; }
    } catch (err) {
      label.textContent = err.message;
    }
    setTimeout(poll, 1000);
  };
  poll();
}
