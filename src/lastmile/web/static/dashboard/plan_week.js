// Multi-day plans: the form starts one (POST /api/v1/plan-weeks); the week page follows its
// progress by polling GET /api/v1/plan-weeks/{id} and shows the days once it is done.
import { api, toast } from './common.js';

const form = document.getElementById('week-form');
if (form) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const vehicles = [...form.querySelectorAll('input[name=vehicle]:checked')].map(c => c.value);
    if (!vehicles.length) { toast('Pick at least one vehicle', 'error'); return; }
    const body = {
      start: form.start.value, end: form.end.value, vehicle_ids: vehicles,
      skip_weekdays: form.skip_weekend.checked ? [6, 7] : [],
      balance_pct: Number(form.balance_pct.value), time_limit_s: Number(form.time_limit_s.value),
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
