// The KPI page: trend charts (Chart.js, served by lastmile) and the comparison form.
import { api, esc, toast } from './common.js';

const data = JSON.parse(document.getElementById('kpi-data').textContent);
const COLOURS = { lagging: '#0b5394', leading: '#7a4b00' };
const UNIT = { rate: '%', money: '', seconds: 'min', km: 'km', hours: 'h', per_hour: '/h', count: '', stars: '★', ratio: '' };

// Values as charted: rates in per cent, durations in minutes.
function scaled(unit, value) {
  if (value === null || value === undefined) return null;
  if (unit === 'rate') return +(100 * value).toFixed(2);
  if (unit === 'seconds') return +(value / 60).toFixed(2);
  return +value.toFixed(3);
}

function trendChart(metric) {
  const box = document.createElement('div');
  box.className = 'chart-box';
  box.dataset.metric = metric.name;
  const better = metric.better ? ` · ${metric.better} is better` : '';
  box.innerHTML = `<h3>${esc(metric.label)} <span class="muted small">${esc(UNIT[metric.unit])}${esc(better)}</span></h3><canvas role="img" aria-label="${esc(metric.label)} per ${esc(data.bucket)}"></canvas>`;
  document.getElementById(`charts-${metric.indicator}`).appendChild(box);
  // A period without orders is a gap, not a zero.
  const values = metric.values.map((v, i) => (data.orders[i] ? scaled(metric.unit, v) : null));
  new Chart(box.querySelector('canvas'), {
    type: 'line',
    data: { labels: data.labels, datasets: [{ label: metric.label, data: values, borderColor: COLOURS[metric.indicator], backgroundColor: COLOURS[metric.indicator], spanGaps: false, pointRadius: data.labels.length > 40 ? 0 : 2, tension: 0.2 }] },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { display: false }, tooltip: { callbacks: { afterLabel: (c) => `${data.orders[c.dataIndex]} orders` } } },
      scales: { x: { ticks: { maxTicksLimit: 6, font: { size: 10 } } }, y: { beginAtZero: metric.unit !== 'stars', ticks: { font: { size: 10 } } } },
    },
  });
}

if (window.Chart) {
  for (const metric of data.metrics) trendChart(metric);
  const failures = document.getElementById('failure-chart');
  if (failures) {
    new Chart(failures, {
      type: 'bar',
      data: { labels: Object.keys(data.failures), datasets: [{ label: 'Failed attempts', data: Object.values(data.failures), backgroundColor: '#a3001b' }] },
      options: { indexAxis: 'y', animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }
} else {
  document.querySelectorAll('.charts').forEach(el => { el.textContent = 'Charts need the Chart.js files (run make assets).'; });
}

// --- a new comparison ------------------------------------------------------------------------
const form = document.getElementById('comparison-form');
const rows = document.getElementById('objectives');
const template = document.getElementById('objective-row');
const units = Object.fromEntries(data.catalogue.map(m => [m.name, m.unit]));

function addObjective(metric = 'cost_per_delivery', kind = 'change_at_most', target = '') {
  const row = template.content.firstElementChild.cloneNode(true);
  const select = row.querySelector('[name=metric]');
  for (const m of data.catalogue) select.add(new Option(m.label, m.name, false, m.name === metric));
  row.querySelector('[name=kind]').value = kind;
  row.querySelector('[name=target]').value = target;
  const hint = () => {
    const relative = row.querySelector('[name=kind]').value.startsWith('change');
    const unit = units[select.value];
    row.querySelector('.unit').textContent = relative ? '% vs baseline' : (unit === 'rate' ? '%' : (UNIT[unit] || unit));
  };
  row.addEventListener('change', hint);
  row.querySelector('.remove-objective').addEventListener('click', () => row.remove());
  rows.insertBefore(row, document.getElementById('add-objective'));
  hint();
}
document.getElementById('add-objective').addEventListener('click', () => addObjective());

function objectiveOf(row) {
  const metric = row.querySelector('[name=metric]').value;
  const kind = row.querySelector('[name=kind]').value;
  const value = Number(row.querySelector('[name=target]').value);
  if (kind.startsWith('change')) return { metric, op: kind.replace('change_', ''), target: value / 100, relative: true };
  const unit = units[metric];
  // As the form shows them: rates in per cent, durations in minutes.
  const target = unit === 'rate' ? value / 100 : unit === 'seconds' ? value * 60 : value;
  return { metric, op: kind, target, relative: false };
}

// --- a typed-in baseline: figures from before lastmile, per period and KPI ------------------
const typedToggle = document.getElementById('typed-toggle');
const typedBox = document.getElementById('typed-periods');

function addPeriod() {
  const block = document.createElement('fieldset');
  block.className = 'typed-period';
  const n = typedBox.querySelectorAll('.typed-period').length + 1;
  const inputs = data.catalogue.map(m =>
    `<label class="small">${esc(m.label)} <input type="number" step="any" min="0" data-metric="${esc(m.name)}" data-unit="${esc(m.unit)}" style="width:6em"> <span class="muted">${esc(UNIT[m.unit])}</span></label>`).join(' ');
  block.innerHTML = `<legend>Period ${n}</legend>
    <label>From <input type="date" name="typed_from" required></label>
    <label>To <input type="date" name="typed_to" required></label>
    <label>Deliveries <input type="number" name="typed_orders" min="0" step="1" style="width:7em"></label>
    <div class="typed-figures">${inputs}</div>
    <button type="button" class="link remove-period">remove period</button>`;
  block.querySelector('.remove-period').addEventListener('click', () => block.remove());
  typedBox.insertBefore(block, document.getElementById('add-period'));
}
typedToggle.addEventListener('change', () => {
  typedBox.hidden = !typedToggle.checked;
  for (const name of ['baseline_from', 'baseline_to', 'baseline_depot_id']) form.elements[name].disabled = typedToggle.checked;
  if (typedToggle.checked && !typedBox.querySelector('.typed-period')) addPeriod();
});
document.getElementById('add-period').addEventListener('click', addPeriod);

function typedPeriods() {
  return [...typedBox.querySelectorAll('.typed-period')].map(block => {
    const values = {};
    for (const input of block.querySelectorAll('[data-metric]')) {
      if (input.value === '') continue;
      const v = Number(input.value);
      // As the form shows them: rates in per cent, durations in minutes.
      values[input.dataset.metric] = input.dataset.unit === 'rate' ? v / 100 : input.dataset.unit === 'seconds' ? v * 60 : v;
    }
    const orders = block.querySelector('[name=typed_orders]').value;
    return { from: block.querySelector('[name=typed_from]').value, to: block.querySelector('[name=typed_to]').value,
      orders: orders === '' ? null : Number(orders), values };
  });
}

function scope(prefix) {
  if (prefix === 'baseline' && typedToggle.checked) {
    const periods = typedPeriods();
    const days = periods.flatMap(p => [p.from, p.to]).filter(Boolean).sort();
    return { from: days[0] || '', to: days[days.length - 1] || '', typed: periods };
  }
  const get = (name) => form.elements[`${prefix}_${name}`].value;
  const out = { from: get('from'), to: get('to') || get('from') };
  if (get('depot_id')) out.depot_id = get('depot_id');
  return out;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = document.getElementById('comparison-error');
  error.textContent = '';
  const body = {
    name: form.elements.name.value.trim(),
    baseline: scope('baseline'),
    pilot: scope('pilot'),
    objectives: [...rows.querySelectorAll('.objective')].map(objectiveOf),
  };
  try {
    const report = await api('POST', '/api/v1/comparisons', body);
    toast(`${report.comparison.name}: created`);
    if (report.warnings.length) {
      // Said before the page reloads, so the owner knows the verdict rests on thin ground.
      const id = encodeURIComponent(report.comparison.id);
      error.innerHTML = report.warnings.map(w => `⚠ ${esc(w)}`).join('<br>') +
        ` <a href="/api/v1/comparisons/${id}/report.html" target="_blank" rel="noopener">Open the report</a> · <a href="">Refresh the list</a>`;
      error.dataset.testid = 'comparison-warning';
      return;
    }
    location.reload();
  } catch (e) {
    error.textContent = e.message;
  }
});

document.querySelectorAll('.delete-comparison').forEach(button => button.addEventListener('click', async () => {
  try {
    await api('DELETE', `/api/v1/comparisons/${encodeURIComponent(button.dataset.id)}`);
    button.closest('tr').remove();
    toast('Comparison deleted');
  } catch (e) { toast(e.message, 'error'); }
}));
