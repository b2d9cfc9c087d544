import { api, toast } from './common.js';

// Forms over the JSON API: fields named "a.b" become nested objects; data-type casts.
function payload(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.value === '') continue;
    let value = el.value;
    if (el.dataset.type === 'number') value = Number(value);
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
    const created = await api('POST', form.dataset.api, payload(form));
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
