// Standing orders in the dashboard: new / edit / pause / resume / stop on the customer's page
// (its section is loaded by htmx, so every handler listens on the document), skipping one
// date, and the organisation's closed days (all through /api/v1/standing-orders and
// /api/v1/closed-days; the server names a refused field and the toast shows it).
import { api, parseWindows, toast } from './common.js';

const reload = () => window.location.reload();
const enc = encodeURIComponent;

// "crates: 2, weight_kg: 5" (or "2 crates") -> {crates: 2, weight_kg: 5}
function parseAmounts(text) {
  const amounts = {};
  for (const part of text.split(/[,;]/).map(s => s.trim()).filter(Boolean)) {
    let name, number, m;
    if ((m = part.match(/^([a-z][a-z0-9_]*)\s*[:=]?\s*(\d+(?:[.,]\d+)?)$/i))) [name, number] = [m[1], m[2]];
    else if ((m = part.match(/^(\d+(?:[.,]\d+)?)\s*([a-z][a-z0-9_]*)$/i))) [number, name] = [m[1], m[2]];
    else throw new Error(`"${part}" is not an amount (like crates: 2)`);
    amounts[name.toLowerCase()] = Number(number.replace(',', '.'));
  }
  return amounts;
}

// The form as the API's body; an edit sends starts_on only when it was changed (a standing
// order that began in the past keeps its start).
function ruleBody(form) {
  const data = new FormData(form);
  const text = (name) => String(data.get(name) ?? '').trim();
  const frequency = text('frequency') || 'weekly';
  const body = {
    name: text('name'),
    frequency,
    address_id: text('address_id'),
    windows: parseWindows(text('windows')),
    description: text('description'),
    demand: parseAmounts(text('demand')),
    notes: text('notes'),
    required: text('required') !== 'optional',
    service_s: text('service_min') === '' ? null : Math.round(Number(text('service_min')) * 60),
    ends_on: text('ends_on') || null,
  };
  if (frequency === 'weekly') {
    body.weekdays = data.getAll('weekdays').map(String);
    body.every_weeks = Number(text('every_weeks') || 1);
  } else {
    body.month_day = text('month_day') === '' ? null : Number(text('month_day'));
  }
  const starts = text('starts_on');
  if (starts && starts !== form.dataset.starts) body.starts_on = starts;
  return body;
}

async function busy(button, work) {
  if (button) button.disabled = true;
  try { await work(); } catch (e) { toast(e.message, 'error'); } finally { if (button) button.disabled = false; }
}

function customerId() {
  const data = document.getElementById('customer-data');
  return data ? JSON.parse(data.textContent).id : null;
}

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const button = form.querySelector('button[type="submit"]');
  if (form.classList.contains('standing-form')) {
    event.preventDefault();
    busy(button, async () => {
      const body = ruleBody(form);
      if (form.dataset.id) {
        await api('PATCH', `/api/v1/standing-orders/${enc(form.dataset.id)}`, body);
        toast('Saved: the coming orders follow');
      } else {
        if (body.service_s === null) delete body.service_s;
        if (body.ends_on === null) delete body.ends_on;
        const made = await api('POST', `/api/v1/customers/${enc(customerId())}/standing-orders`, body);
        toast(`Standing order saved: ${made.summary}`);
      }
      reload();
    });
  } else if (form.classList.contains('pause-form')) {
    event.preventDefault();
    busy(button, async () => {
      const data = new FormData(form);
      await api('PATCH', `/api/v1/standing-orders/${enc(form.dataset.id)}`, {
        paused_from: String(data.get('paused_from')), paused_until: String(data.get('paused_until')),
      });
      toast('Paused: no orders in those days');
      reload();
    });
  } else if (form.id === 'new-closed-day') {
    event.preventDefault();
    busy(button, async () => {
      const data = new FormData(form);
      await api('PUT', `/api/v1/closed-days/${enc(String(data.get('date')))}`, { note: String(data.get('note') ?? '').trim() });
      reload();
    });
  }
});

document.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button') : null;
  if (!button) return;
  if (button.classList.contains('toggle')) {
    const target = document.getElementById(button.dataset.target);
    if (target) target.hidden = !target.hidden;
  } else if (button.classList.contains('skip-date')) {
    busy(button, async () => {
      const done = await api('POST', `/api/v1/standing-orders/${enc(button.dataset.id)}/occurrences/${enc(button.dataset.date)}/skip`);
      toast(`${done.date} skipped`);
      reload();
    });
  } else if (button.classList.contains('resume-standing')) {
    busy(button, async () => {
      await api('PATCH', `/api/v1/standing-orders/${enc(button.dataset.id)}`, { paused_from: null, paused_until: null });
      toast('Resumed');
      reload();
    });
  } else if (button.classList.contains('stop-standing')) {
    if (!window.confirm('Stop this standing order? Its coming orders that are not planned yet are removed.')) return;
    busy(button, async () => {
      await api('DELETE', `/api/v1/standing-orders/${enc(button.dataset.id)}`);
      reload();
    });
  } else if (button.classList.contains('open-day')) {
    busy(button, async () => {
      await api('DELETE', `/api/v1/closed-days/${enc(button.dataset.date)}`);
      reload();
    });
  }
});
