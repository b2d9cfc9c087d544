// The shop page: connect a Shopify shop, check it, pause, replace secrets, disconnect
// (all through /api/v1/shop-connections).
import { api, toast } from './common.js';

const reload = () => window.location.reload();
const form = document.getElementById('connect-shop');
form?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const payload = {
      shop: String(data.get('shop')).trim(),
      access_token: String(data.get('access_token')).trim(),
      webhook_secret: String(data.get('webhook_secret')).trim(),
      notify_customer: data.get('notify_customer') === 'on',
    };
    const made = await api('POST', '/api/v1/shop-connections', payload);
    const check = await api('POST', `/api/v1/shop-connections/${encodeURIComponent(made.id)}/check`);
    toast(check.ok ? `Connected to ${check.shop_name}: now create the webhooks in Shopify with the URL shown`
      : `Saved, but the shop did not accept the token: ${check.error}`, check.ok ? 'info' : 'error');
    setTimeout(reload, check.ok ? 1500 : 4000);
  } catch (e) { toast(e.message, 'error'); button.disabled = false; }
});

for (const card of document.querySelectorAll('.shop-connection')) {
  const base = `/api/v1/shop-connections/${encodeURIComponent(card.dataset.id)}`;
  card.querySelector('.copy-url')?.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(card.querySelector('.webhook-url').textContent); toast('Copied'); }
    catch { toast('Select the address and copy it', 'error'); }
  });
  card.querySelector('.check-shop')?.addEventListener('click', async () => {
    const out = card.querySelector('.check-result');
    out.textContent = 'asking the shop…';
    try {
      const answer = await api('POST', `${base}/check`);
      out.textContent = answer.ok ? `works: ${answer.shop_name}` : `does not work: ${answer.error}`;
      out.className = `check-result ${answer.ok ? 'ok' : 'warn'}`;
    } catch (e) { out.textContent = e.message; }
  });
  card.querySelector('.toggle-shop')?.addEventListener('click', async (event) => {
    const active = event.target.dataset.active === 'true';
    try { await api('PATCH', base, { active: !active }); reload(); } catch (e) { toast(e.message, 'error'); }
  });
  card.querySelector('.delete-shop')?.addEventListener('click', async () => {
    if (!window.confirm('Disconnect this shop? Orders it sent stay; new ones stop arriving.')) return;
    try { await api('DELETE', base); reload(); } catch (e) { toast(e.message, 'error'); }
  });
  const replace = card.querySelector('.replace-secrets');
  replace?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = {};
    for (const name of ['access_token', 'webhook_secret']) {
      const value = replace.querySelector(`[name=${name}]`).value.trim();
      if (value) body[name] = value;
    }
    if (!Object.keys(body).length) { toast('Type a new token or secret first', 'error'); return; }
    try { await api('PATCH', base, body); toast('Saved'); reload(); } catch (e) { toast(e.message, 'error'); }
  });
}
