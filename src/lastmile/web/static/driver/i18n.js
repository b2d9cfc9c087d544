// The app's words in the organisation's language. The catalogue is the server's
// (lastmile/drivers/texts.py, served at /driver/texts/<language>.json and kept offline by the
// service worker), the same mechanism as the customer's tracking page: one place to add a
// language. The route answer says which language the organisation speaks.
import { kv } from './store.js';

let words = {};
let current = 'en';

/** The words of `key` with {name} placeholders filled in; the key itself if unknown. */
export function t(key, values = {}) {
  const text = words[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

export const language = () => current;

/** Load the catalogue of `wanted` (e.g. "de", "de-CH"); the server answers English for a
 * language it does not speak. Kept on the phone so the next start is in it at once. */
export async function useLanguage(wanted) {
  const code = String(wanted || 'en').slice(0, 2).toLowerCase();
  try {
    const response = await fetch(`/driver/texts/${encodeURIComponent(code)}.json`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    words = body.words;
    current = body.language;
    document.documentElement.lang = current;
    await kv.set('language', current);
  } catch (error) {
    console.warn('texts', error); // offline before the first load: the built-in page words stay
  }
}

/** The words of the page shell (index.html): elements marked data-t / data-t-label. */
export function applyWords(root = document) {
  for (const el of root.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll('[data-t-label]')) el.setAttribute('aria-label', t(el.dataset.tLabel));
}
