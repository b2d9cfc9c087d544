import { api, toast } from './common.js';

const form = document.getElementById('plan-form');
document.getElementById('plan-date').addEventListener('change', (e) => {
  location.href = `/app/plan?date=${encodeURIComponent(e.target.value)}`;
});
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const vehicles = [...form.querySelectorAll('input[name=vehicle]:checked')].map(c => c.value);
  if (!vehicles.length) { toast('Pick at least one vehicle', 'error'); return; }
  const body = {
    date: form.date.value, vehicle_ids: vehicles, time_limit_s: Number(form.time_limit_s.value),
    objective: form.objective.value, balance_pct: Number(form.balance_pct.value),
  };
  document.getElementById('run-plan').disabled = true;
  try {
    const created = await api('POST', '/api/v1/plans', body);
    location.href = `/app/plans/${encodeURIComponent(created.id)}`;
  } catch (err) {
    toast(err.message, 'error');
    document.getElementById('run-plan').disabled = false;
  }
});
