// One order's page: a new tracking link for the customer (the link is shown once).
import { api, esc, toast } from './common.js';

const order = JSON.parse(document.getElementById('order-data').textContent);
document.getElementById('make-link').addEventListener('click', async () => {
  try {
    const link = await api('POST', `/api/v1/orders/${encodeURIComponent(order.id)}/tracking-link`);
    const url = new URL(link.url, window.location.origin).href;
    document.getElementById('tracking-link').innerHTML = `<a href="${esc(url)}" target="_blank" id="tracking-url">${esc(url)}</a> (copy it now: it is shown only once)`;
  } catch (err) { toast(err.message, 'error'); }
});
