// The lastmile driver app: log in, today's route, arrive / deliver / fail with proof of
// delivery, GPS sharing while the route is started. Offline first: every action is written
// to IndexedDB (store.js) before it is sent (sync.js); the screen always shows the route with
// the driver's own unsent actions applied.

import { HttpError, NetworkError, request, setToken } from './api.js';
import { Tracker } from './gps.js';
import { Live } from './live.js';
import { canScan, scanOnce } from './scanner.js';
import { SignaturePad } from './signature.js';
import { files, kv, outbox, positions, queueAction } from './store.js';
import { Sync } from './sync.js';
import { applyWords, language, t, useLanguage } from './i18n.js';
import { h, hhmm, isoNow, shrinkPhoto, uuid } from './util.js';

// Every word the driver reads comes from the server's catalogue (drivers/texts.py) in the
// organisation's language, looked up by key with t() (i18n.js).
const REASONS = ['not_home', 'wrong_address', 'refused', 'access_problem', 'damaged', 'other'];
const STATUS_KEYS = {
  pending: 'status_pending', arrived: 'status_arrived', delivered: 'status_delivered',
  failed: 'status_failed', skipped: 'status_skipped', done: 'status_delivered',
};
const statusLabel = (status) => (STATUS_KEYS[status] ? t(STATUS_KEYS[status]) : status);
const CLOSED = new Set(['delivered', 'failed', 'skipped', 'done']);
const NAV_LABELS = [
  ['google', 'Google Maps'], ['apple', 'Apple Maps'], ['osm', 'OpenStreetMap'], ['geo', null],
];

const S = {
  session: null,
  route: null, // the server's route (null: none today)
  routeKnown: false, // whether S.route is an answer (from the server or the saved copy)
  fetchedAt: null,
  savedCopy: false,
  outbox: [],
  files: [],
  sending: false,
  gpsNote: null,
  loginNote: null,
  drafts: new Map(),
  routeProblem: null,
};
let sync = null;
let tracker = null;
let live = null;
let lastSignature = null;

const $ = (id) => document.getElementById(id);
const main = () => $('main');

// ---------------------------------------------------------------- derived state

const mine = (row) => S.session && row.user === S.session.user;
const pendingEvents = () => S.outbox.filter((r) => mine(r) && r.state === 'pending');
const waitingCount = () => pendingEvents().length + S.files.filter((f) => mine(f) && f.state === 'waiting').length;

/** What an action does to the route, as the server will apply it. */
function applyEvent(route, event, unsent) {
  if (!route) return;
  if (event.type === 'route_started' && route.status !== 'finished') route.status = 'started';
  else if (event.type === 'route_finished') route.status = 'finished';
  const stop = route.stops.find((s) => s.id === event.stop_id);
  if (!stop) return;
  if (event.type === 'arrived' && !CLOSED.has(stop.status)) stop.status = 'arrived';
  if (event.type === 'delivered' || event.type === 'failed') stop.status = event.type;
  if (unsent) stop.unsent = true;
}

/** The route as the driver sees it: the server's, with the unsent actions applied. */
function effectiveRoute() {
  if (!S.route) return null;
  const route = structuredClone(S.route);
  for (const { event } of pendingEvents()) applyEvent(route, event, true);
  return route;
}

// Accepted actions are applied to the saved route at once (the server did the same), and
// again to a route answer that was asked for before they were accepted.
let accepted = 0;
let acks = [];
async function onAccepted(rows) {
  for (const row of rows) {
    accepted += 1;
    acks.push({ n: accepted, event: row.event });
    applyEvent(S.route, row.event, false);
  }
  if (S.route && S.session) await kv.set('route', { user: S.session.user, route: S.route, fetched_at: S.fetchedAt });
}

const orderStops = (route) => route.stops.filter((s) => s.kind !== 'break');
const nextStop = (route) => orderStops(route).find((s) => !CLOSED.has(s.status)) || null;
const windowText = (stop) => (stop.windows || []).map(([a, b]) => `${hhmm(a)}–${hhmm(b)}`).join(', ');
const started = (route) => route && route.status === 'started';

/** What the dispatcher can change; ETAs move by themselves and are not news. */
function routeSignature(route) {
  if (!route) return 'none';
  return JSON.stringify([route.id, route.status, route.stops.map((s) => [
    s.id, s.sequence, s.status, s.notes, s.description, s.address, s.windows, s.phone, s.items, s.pod_required, s.handover,
  ])]);
}
const etas = (route) => (route ? route.stops.map((s) => s.eta).join() : '');

// ---------------------------------------------------------------- data

async function loadQueue() {
  [S.outbox, S.files] = await Promise.all([outbox.all(), files.all()]);
}

async function refreshRoute({ quiet = false } = {}) {
  if (!S.session?.token) return;
  const before = routeSignature(effectiveRoute());
  const etasBefore = etas(S.route);
  const wasKnown = S.routeKnown;
  const wasSaved = S.savedCopy;
  const asked = accepted;
  try {
    const { data, offlineCopy } = await request('/api/v1/driver/route');
    // The service worker's copy is the last answer it saw; the app's own copy also has the
    // driver's accepted actions, so the worker's is only for a phone that lost the app's.
    if (offlineCopy && S.routeKnown) throw new NetworkError('offline');
    S.route = data.route;
    S.orgLanguage = data.language || null;
    for (const ack of acks) if (ack.n > asked) applyEvent(S.route, ack.event, false);
    acks = acks.filter((ack) => ack.n > asked);
    S.routeKnown = true;
    S.routeProblem = null;
    S.savedCopy = offlineCopy;
    if (!offlineCopy) {
      S.fetchedAt = Date.now();
      await kv.set('route', { user: S.session.user, route: S.route, fetched_at: S.fetchedAt });
    }
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) return authLost();
    if (error instanceof HttpError && error.status === 403) {
      S.routeKnown = true;
      S.route = null;
      S.routeProblem = error.message; // e.g. no driver is linked to this login
    } else if (!(error instanceof NetworkError)) {
      toast(t('route_load_failed', { error: error.message }));
    }
    S.savedCopy = S.routeKnown;
  }
  if (S.orgLanguage && S.orgLanguage !== language()) {
    await useLanguage(S.orgLanguage);
    applyWords();
    lastSignature = null;
    render({ force: true });
  }
  const after = routeSignature(effectiveRoute());
  if (!quiet && lastSignature !== null && before !== 'none' && before !== after) {
    toast(t('route_updated'));
  }
  lastSignature = after;
  followRouteStatus();
  // Redraw only on a change: a redraw closes what the driver has open (the map choices).
  if (before !== after || etasBefore !== etas(S.route) || !wasKnown || wasSaved !== S.savedCopy) render();
  else renderBar();
}

/** GPS is shared while the route is started, and never otherwise. */
function followRouteStatus() {
  if (!tracker) return;
  if (started(effectiveRoute())) tracker.start();
  else tracker.stop();
}

async function act(type, stop, extra = {}, attachments = []) {
  const here = tracker?.here();
  const event = { key: uuid(), type, occurred_at: isoNow(), barcodes: [] };
  if (stop) event.stop_id = stop.id;
  if (here) Object.assign(event, here);
  for (const [k, v] of Object.entries(extra)) {
    if (v !== null && v !== undefined && v !== '') event[k] = v;
  }
  const label = stop ? t('action_at_stop', { action: actionName(type), n: stop.sequence, address: stop.address }) : actionName(type);
  await queueAction({
    user: S.session.user,
    event,
    label,
    files: attachments.map((f) => ({ ...f, recipient: extra.recipient || '' })),
  });
  await loadQueue();
  lastSignature = routeSignature(effectiveRoute());
  followRouteStatus();
  sync.kick();
  return event;
}

function actionName(type) {
  return ['route_started', 'route_finished', 'arrived', 'delivered', 'failed'].includes(type) ? t(`action_${type}`) : type;
}

// ---------------------------------------------------------------- session

async function boot() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/driver/sw.js', { scope: document.body.dataset.scope })
      .catch(() => { /* plain http on a LAN address: the app still works, only not offline */ });
  }
  $('back').addEventListener('click', () => {
    const v = view();
    location.hash = v.name === 'stop' ? '#/' : v.id ? `#/stop/${v.id}` : '#/';
  });
  $('menu').addEventListener('click', () => toggleMenu());
  $('refresh').addEventListener('click', () => { toggleMenu(false); refreshRoute(); });
  $('sync-now').addEventListener('click', () => { toggleMenu(false); sync?.kick(); });
  $('logout').addEventListener('click', () => logout());
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') toggleMenu(false); });
  $('main').addEventListener('click', () => toggleMenu(false));
  window.addEventListener('hashchange', () => render({ force: true }));
  window.addEventListener('online', () => { renderBar(); sync?.kick(); live?.reconnect(); refreshRoute(); });
  window.addEventListener('offline', () => renderBar());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && S.session?.token) { sync?.kick(); refreshRoute(); }
  });
  S.session = (await kv.get('session')) || null;
  await useLanguage((await kv.get('language')) || navigator.language);
  applyWords();
  await loadQueue();
  // An expired login is found out by the server (401), not here: without signal the driver
  // must still see the route and record what happens; the queue waits for the new login.
  if (S.session?.token) await startSession();
  else render({ force: true });
}

async function startSession() {
  setToken(S.session.token);
  const saved = await kv.get('route');
  if (saved && saved.user === S.session.user) {
    S.route = saved.route;
    S.routeKnown = true;
    S.savedCopy = true;
    S.fetchedAt = saved.fetched_at;
  }
  sync = new Sync({
    user: S.session.user,
    onChange: async (state) => {
      if (state && 'sending' in state) S.sending = state.sending;
      const before = waitingCount();
      await loadQueue();
      renderBar();
      renderNotices();
      if (waitingCount() !== before) rerenderRouteViews();
    },
    onAuthLost: () => authLost(),
    onAccepted,
    onRejected: (rows) => {
      refreshRoute({ quiet: true }); // the office knows something the phone does not
      toast(rows.length === 1 ? t('refused_one') : t('refused_many', { n: rows.length }));
      rerenderRouteViews();
    },
  });
  tracker = new Tracker({
    onQueued: () => sync.kick(),
    onStatus: (note) => { S.gpsNote = note; renderNotices(); },
  });
  live = new Live({
    onChange: () => refreshRoute(),
    onAuthLost: () => authLost(),
  });
  lastSignature = null;
  render({ force: true });
  lastSignature = routeSignature(effectiveRoute());
  followRouteStatus();
  sync.kick();
  refreshRoute({ quiet: true });
}

function stopSession() {
  sync?.stop();
  tracker?.stop();
  live?.stop();
  sync = tracker = live = null;
}

async function authLost() {
  if (!S.session?.token) return;
  stopSession();
  S.session = { ...S.session, token: null };
  await kv.set('session', S.session);
  S.loginNote = t('login_expired');
  render({ force: true });
}

async function login(form) {
  const email = form.email.value.trim();
  const body = { email, password: form.password.value };
  if (form.organisation.value.trim()) body.organisation = form.organisation.value.trim();
  const error = form.querySelector('.form-error');
  const button = form.querySelector('button[type=submit]');
  error.textContent = '';
  button.disabled = true;
  button.textContent = t('logging_in');
  try {
    const { data } = await request('/api/v1/auth/token', { method: 'POST', json: body, auth: false });
    if (data.role !== 'driver') {
      error.textContent = t('not_a_driver', { role: data.role });
      return;
    }
    const user = `${data.organisation_id}:${email.toLowerCase()}`;
    if (S.session?.user && S.session.user !== user) {
      // Another driver on this phone: the last one's route and positions are not theirs.
      S.route = null;
      S.routeKnown = false;
      await kv.delete('route');
      await positions.remove((await positions.batch()).map((p) => p.id));
    }
    S.session = {
      token: data.access_token, user, email, org_id: data.organisation_id, role: data.role,
      expires_at: Date.now() + data.expires_in * 1000,
    };
    await kv.set('session', S.session);
    S.loginNote = null;
    location.replace('#/');
    await startSession();
  } catch (e) {
    if (e instanceof NetworkError) error.textContent = t('no_connection_login');
    else if (e instanceof HttpError && e.status === 401) error.textContent = t('wrong_password');
    else if (e instanceof HttpError && e.status === 429) error.textContent = t('too_many_logins');
    else error.textContent = e.message;
  } finally {
    button.disabled = false;
    button.textContent = t('log_in');
  }
}

async function logout() {
  toggleMenu(false);
  const waiting = waitingCount();
  const question = waiting ? t('logout_waiting', { n: waiting }) : t('logout_confirm');
  if (!window.confirm(question)) return;
  stopSession();
  S.session = { ...S.session, token: null };
  await kv.set('session', S.session);
  await kv.delete('route');
  navigator.serviceWorker?.controller?.postMessage('forget-data');
  await positions.remove((await positions.batch()).map((p) => p.id));
  S.route = null;
  S.routeKnown = false;
  S.loginNote = null;
  render({ force: true });
}

// ---------------------------------------------------------------- views

function view() {
  const m = location.hash.match(/^#\/stop\/([^/]+)(?:\/(deliver|fail))?$/);
  if (!m) return { name: 'route' };
  return { name: m[2] || 'stop', id: decodeURIComponent(m[1]) };
}

function render({ force = false } = {}) {
  renderBar();
  renderNotices();
  const root = main();
  if (!S.session?.token) {
    if (root.dataset.view !== 'login' || force) show(loginView(), 'login', t('app_title'));
    return;
  }
  const v = view();
  const isForm = v.name === 'deliver' || v.name === 'fail';
  // A form being filled in is never redrawn under the driver's fingers.
  if (!force && isForm && root.dataset.view === v.name && root.dataset.stop === v.id) {
    const route = effectiveRoute();
    root.querySelector('.changed')?.toggleAttribute('hidden', !!route?.stops.find((s) => s.id === v.id));
    return;
  }
  const route = effectiveRoute();
  if (!S.routeKnown) return show(h('p', { class: 'card loading' }, t('loading_route')), 'loading', t('title_today'));
  if (!route) return show(noRouteView(), 'none', t('title_today'));
  if (v.name === 'route') return show(routeView(route), 'route', t('title_route'), null, force);
  const stop = route.stops.find((s) => s.id === v.id);
  if (!stop) {
    return show(h('div', { class: 'card' }, h('h2', { tabindex: -1 }, t('stop_gone')),
      h('p', {}, t('stop_gone_why')),
      h('a', { class: 'btn btn-primary', href: '#/' }, t('back_label'))), 'gone', t('stop'));
  }
  const title = t('title_stop', { n: stop.sequence });
  if (v.name === 'stop') return show(stopView(route, stop), 'stop', title, stop.id, force);
  if (v.name === 'deliver') return show(deliverView(stop), 'deliver', title, stop.id, true);
  return show(failView(stop), 'fail', title, stop.id, true);
}

function rerenderRouteViews() {
  const name = main().dataset.view;
  if (name === 'route' || name === 'stop') render();
}

function show(content, name, title, stopId = null, moveFocus = true) {
  const root = main();
  const changedView = root.dataset.view !== name || (root.dataset.stop || null) !== stopId;
  const scroll = window.scrollY;
  root.replaceChildren(content);
  root.dataset.view = name;
  if (stopId) root.dataset.stop = stopId; else delete root.dataset.stop;
  $('title').textContent = title;
  document.title = `${title} · ${t('app_title')}`;
  $('back').hidden = !S.session?.token || name === 'route' || name === 'none' || name === 'login' || name === 'loading';
  if (changedView && moveFocus) {
    window.scrollTo(0, 0);
    (root.querySelector('h2') || root).focus({ preventScroll: true });
  } else {
    window.scrollTo(0, scroll);
  }
}

function renderBar() {
  const bar = $('sync');
  $('menu').hidden = !S.session?.token;
  if (!S.session?.token) { bar.textContent = ''; bar.dataset.pending = '0'; return; }
  const waiting = waitingCount();
  bar.dataset.pending = String(waiting);
  bar.className = 'sync';
  if (!navigator.onLine) {
    bar.classList.add('sync-offline');
    bar.textContent = waiting ? t('offline_waiting', { n: waiting }) : t('offline');
  } else if (waiting) {
    bar.classList.add('sync-waiting');
    bar.textContent = S.sending ? t('sending', { n: waiting }) : t('waiting', { n: waiting });
  } else {
    bar.classList.add('sync-ok');
    bar.textContent = t('all_sent');
  }
  bar.title = waiting ? t('waiting_title', { n: waiting }) : '';
  $('who').textContent = S.session.email ? t('logged_in_as', { email: S.session.email }) : '';
}

function renderNotices() {
  const box = $('notices');
  const items = [];
  for (const row of S.outbox.filter((r) => mine(r) && r.state === 'rejected')) {
    items.push(h('div', { class: 'notice notice-error', role: 'alert' },
      h('p', {}, h('strong', {}, t('not_accepted')), row.label),
      h('p', {}, row.error || ''),
      h('button', { type: 'button', class: 'btn btn-small', onclick: async () => { await outbox.dismiss(row.seq); await loadQueue(); render(); } }, t('ok'))));
  }
  for (const row of S.files.filter((f) => mine(f) && f.state === 'refused')) {
    items.push(h('div', { class: 'notice notice-error', role: 'alert' },
      h('p', {}, h('strong', {}, t('file_not_accepted', { kind: t(row.kind === 'photo' ? 'photo' : 'signature') })), row.error || ''),
      h('button', { type: 'button', class: 'btn btn-small', onclick: async () => { await files.remove(row.id); await loadQueue(); render(); } }, t('ok'))));
  }
  if (S.gpsNote && started(effectiveRoute())) items.push(h('div', { class: 'notice' }, h('p', {}, S.gpsNote)));
  box.replaceChildren(...items);
}

let toastTimer = null;
function toast(text) {
  const el = $('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4500);
}

function toggleMenu(open) {
  const panel = $('menu-panel');
  const next = open ?? panel.hidden;
  panel.hidden = !next;
  $('menu').setAttribute('aria-expanded', String(next));
}

function loginView() {
  const form = h('form', { class: 'card', novalidate: true, onsubmit: (e) => { e.preventDefault(); login(form); } },
    h('h2', { tabindex: -1 }, t('log_in')),
    S.loginNote ? h('p', { class: 'notice' }, S.loginNote) : null,
    waitingCount() ? h('p', { class: 'muted' }, t('saved_on_phone', { n: waitingCount() })) : null,
    h('label', { for: 'email' }, t('email')),
    h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true, value: S.session?.email || '' }),
    h('label', { for: 'password' }, t('password')),
    h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('details', { class: 'more' },
      h('summary', {}, t('several_companies')),
      h('label', { for: 'organisation' }, t('company')),
      h('input', { id: 'organisation', name: 'organisation', type: 'text', autocomplete: 'organization' })),
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit', class: 'btn btn-primary btn-big' }, t('log_in')));
  return form;
}

function noRouteView() {
  return h('div', { class: 'card' },
    h('h2', { tabindex: -1 }, t('no_route')),
    S.routeProblem
      ? h('p', { class: 'notice', role: 'alert' }, S.routeProblem.charAt(0).toUpperCase() + S.routeProblem.slice(1))
      : h('p', {}, t('no_route_help')),
    savedNote(),
    h('button', { type: 'button', class: 'btn', onclick: () => refreshRoute() }, t('check_again')));
}

function savedNote() {
  if (!S.savedCopy || !S.fetchedAt) return null;
  const at = new Date(S.fetchedAt).toLocaleTimeString(language(), { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return h('p', { class: 'muted saved' }, t('saved_copy', { time: at }));
}

function dateText(iso) {
  const [y, m, d] = String(iso).split('-').map(Number);
  if (!y) return iso;
  return new Date(y, m - 1, d).toLocaleDateString(language(), { weekday: 'short', day: 'numeric', month: 'short' });
}

function routeView(route) {
  const stops = orderStops(route);
  const closed = stops.filter((s) => CLOSED.has(s.status)).length;
  const next = nextStop(route);
  const summary = h('section', { class: 'card summary', 'aria-labelledby': 'route-h' },
    h('h2', { id: 'route-h', tabindex: -1 }, `${route.vehicle?.name || t('your_route')} · ${dateText(route.date)}`),
    h('p', { class: 'progress-text' }, t('stops_done', { done: closed, total: stops.length })),
    h('progress', { max: stops.length || 1, value: closed, 'aria-label': t('stops_done_label') }),
    route.status === 'started' ? h('p', { class: 'muted' }, t('location_shared')) : null,
    savedNote());
  const parts = [summary];
  if (route.status !== 'started' && route.status !== 'finished') {
    parts.push(h('button', {
      type: 'button', class: 'btn btn-primary btn-big', id: 'start-route',
      onclick: async () => { await act('route_started', null, { route_id: route.id }); toast(t('route_started_toast')); render({ force: true }); },
    }, t('start_route')));
    parts.push(h('p', { class: 'muted center' }, t('start_shares')));
  }
  if (route.status === 'finished') {
    parts.push(h('div', { class: 'card done' }, h('h3', {}, t('route_finished')), h('p', {}, t('route_finished_thanks'))));
  } else if (next) {
    parts.push(h('section', { class: 'card next', 'aria-labelledby': 'next-h' },
      h('h3', { id: 'next-h' }, t('next_stop', { n: next.sequence })),
      h('p', { class: 'address' }, next.address || next.customer || next.external_id),
      next.description ? h('p', { class: 'what' }, next.description) : null,
      stopTimes(next),
      h('div', { class: 'row' },
        navigation(next),
        h('a', { class: 'btn btn-primary', href: `#/stop/${encodeURIComponent(next.id)}` }, t('open_stop')))));
  }
  parts.push(h('h3', { class: 'list-h' }, t('all_stops')));
  parts.push(h('ol', { class: 'stops', 'aria-label': t('stops_in_order') }, route.stops.map((s) => stopRow(s, next))));
  if (route.status === 'started') {
    parts.push(h('button', {
      type: 'button', class: 'btn btn-big', id: 'finish-route',
      onclick: async () => {
        const open = stops.filter((s) => !CLOSED.has(s.status)).length;
        if (open && !window.confirm(t('open_stops_finish', { n: open }))) return;
        await act('route_finished', null, { route_id: route.id });
        toast(t('route_finished_toast'));
        render({ force: true });
      },
    }, t('finish_route')));
  }
  return h('div', { class: 'stack' }, parts);
}

function stopTimes(stop) {
  const bits = [];
  if (stop.windows?.length) bits.push(h('span', {}, h('span', { class: 'k' }, t('window')), windowText(stop)));
  if (stop.eta) bits.push(h('span', {}, h('span', { class: 'k' }, t('eta')), hhmm(stop.eta)));
  return bits.length ? h('p', { class: 'times' }, bits) : null;
}

function stopRow(stop, next) {
  if (stop.kind === 'break') {
    return h('li', { class: 'stop-row break' },
      h('span', { class: 'badge' }, breakIcon()),
      h('span', { class: 'body' }, h('span', { class: 'address' }, t('break')),
        h('span', { class: 'times' }, [stop.eta ? t('break_from', { time: hhmm(stop.eta) }) : '', stop.service_s ? ` · ${t('minutes', { n: Math.round(stop.service_s / 60) })}` : ''].join(''))));
  }
  const status = stop.status || 'pending';
  return h('li', {},
    h('a', {
      class: `stop-row status-${status}${next && next.id === stop.id ? ' is-next' : ''}`,
      href: `#/stop/${encodeURIComponent(stop.id)}`,
      'data-stop': stop.id,
    },
    h('span', { class: 'badge', 'aria-hidden': 'true' }, String(stop.sequence)),
    h('span', { class: 'body' },
      h('span', { class: 'address' }, h('span', { class: 'sr-only' }, t('stop_n', { n: stop.sequence })), stop.address || stop.external_id),
      h('span', { class: 'times' }, [stop.windows?.length ? windowText(stop) : '', stop.eta ? `${t('eta')}${hhmm(stop.eta)}` : ''].filter(Boolean).join(' · '))),
    h('span', { class: 'chip' }, statusLabel(status),
      stop.unsent ? h('span', { class: 'unsent', title: t('waiting_to_send') }, clockIcon(), h('span', { class: 'sr-only' }, t('waiting_to_send_sr'))) : null)));
}

const SVG = 'http://www.w3.org/2000/svg';
function icon(paths) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  for (const d of paths) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}
const clockIcon = () => icon(['M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z', 'M12 7v5l3 2']);
const breakIcon = () => icon(['M4 9h13v5a5 5 0 0 1-5 5H9a5 5 0 0 1-5-5z', 'M17 10h1.5a2.5 2.5 0 0 1 0 5H17', 'M8 3v3M12 3v3']);

function navigation(stop) {
  const links = NAV_LABELS.filter(([k]) => stop.navigation?.[k]);
  if (!links.length) return null;
  return h('details', { class: 'nav' },
    h('summary', { class: 'btn' }, t('navigate')),
    h('ul', { class: 'nav-list' }, links.map(([k, label]) => h('li', {},
      h('a', { class: 'btn', href: stop.navigation[k], target: k === 'geo' ? null : '_blank', rel: 'noopener', 'data-nav': k }, label || t('nav_geo'))))));
}

function stopView(route, stop) {
  const status = stop.status || 'pending';
  const items = Object.entries(stop.items || {}).filter(([, v]) => v !== null && v !== '' && v !== 0);
  const parts = [
    h('section', { class: 'card' },
      h('h2', { class: 'address big', tabindex: -1 }, stop.address || stop.external_id),
      stop.customer ? h('p', { class: 'customer' }, stop.customer) : null,
      h('p', { class: `status status-${status}` }, statusLabel(status), stop.unsent ? t('waiting_to_send_suffix') : ''),
      stopTimes(stop),
      stop.service_s ? h('p', { class: 'muted' }, t('minutes_at_stop', { n: Math.max(1, Math.round(stop.service_s / 60)) })) : null,
      stop.external_id ? h('p', { class: 'muted' }, t('order_n', { id: stop.external_id })) : null),
  ];
  if (stop.notes) parts.push(h('section', { class: 'card notes', 'aria-label': t('notes') }, h('h3', {}, t('notes')), h('p', {}, stop.notes)));
  // What to hand over, in the shop's words ("bread basket"); the amounts come after it.
  if (stop.description || items.length) {
    parts.push(h('section', { class: 'card', 'aria-label': t('what_to_deliver') }, h('h3', {}, t('what_to_deliver')),
      stop.description ? h('p', { class: 'what big' }, stop.description) : null,
      items.length ? h('ul', { class: 'items' }, items.map(([k, v]) => h('li', {}, h('span', {}, k.replaceAll('_', ' ')), h('strong', {}, String(v))))) : null));
  }
  const contact = [];
  if (stop.phone) {
    contact.push(h('a', { class: 'btn', href: `tel:${stop.phone.replace(/[^+\d]/g, '')}` }, t('call', { phone: stop.phone })));
    contact.push(h('a', { class: 'btn', href: `sms:${stop.phone.replace(/[^+\d]/g, '')}` }, t('send_sms')));
  }
  const nav = navigation(stop);
  if (contact.length || nav) parts.push(h('div', { class: 'row wrap' }, nav, contact));
  parts.push(actionsFor(route, stop));
  return h('div', { class: 'stack' }, parts);
}

function actionsFor(route, stop) {
  const status = stop.status || 'pending';
  const box = h('section', { class: 'actions', 'aria-label': t('what_happened') });
  if (CLOSED.has(status)) {
    box.append(h('p', { class: 'muted center' }, status === 'failed' ? t('marked_failed') : t('stop_done')));
    return box;
  }
  if (route.status === 'finished') {
    box.append(h('p', { class: 'muted center' }, t('route_is_finished')));
    return box;
  }
  if (!started(route)) {
    box.append(h('p', { class: 'muted center' }, t('start_first')),
      h('button', { type: 'button', class: 'btn btn-primary btn-big', onclick: async () => { await act('route_started', null, { route_id: route.id }); render({ force: true }); } }, t('start_route')));
    return box;
  }
  if (status === 'pending') {
    box.append(h('button', {
      type: 'button', class: 'btn btn-primary btn-big', id: 'arrived',
      onclick: async () => { await act('arrived', stop); render({ force: true }); },
    }, t('arrived')));
  } else {
    box.append(
      h('a', { class: 'btn btn-ok btn-big', id: 'delivered', href: `#/stop/${encodeURIComponent(stop.id)}/deliver` }, t('delivered')),
      h('a', { class: 'btn btn-danger btn-big', id: 'failed', href: `#/stop/${encodeURIComponent(stop.id)}/fail` }, t('not_delivered')));
  }
  return box;
}

/** A code typed but not added with "Add" still counts. */
function takeTypedCode(form, draft) {
  const typed = form.querySelector('#barcode')?.value.trim();
  if (typed && !draft.barcodes.includes(typed)) draft.barcodes.push(typed);
}

function forget(stop) {
  const draft = S.drafts.get(stop.id);
  if (draft?.photoUrl) URL.revokeObjectURL(draft.photoUrl);
  S.drafts.delete(stop.id);
}

function draftOf(stop) {
  if (!S.drafts.has(stop.id)) S.drafts.set(stop.id, { barcodes: [], photo: null });
  return S.drafts.get(stop.id);
}

function barcodeSection(draft) {
  const list = h('ul', { class: 'codes', 'aria-label': t('scanned_parcels') });
  const draw = () => list.replaceChildren(...draft.barcodes.map((code, i) => h('li', {},
    h('span', { class: 'code' }, code),
    h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('remove_code', { code }), onclick: () => { draft.barcodes.splice(i, 1); draw(); } }, t('remove')))));
  draw();
  const add = (code) => {
    const value = String(code || '').trim();
    if (value && !draft.barcodes.includes(value)) draft.barcodes.push(value);
    draw();
  };
  const input = h('input', { id: 'barcode', type: 'text', inputmode: 'text', autocomplete: 'off', autocapitalize: 'characters', placeholder: t('parcel_code') });
  const manual = h('div', { class: 'row' }, input,
    h('button', { type: 'button', class: 'btn', id: 'add-barcode', onclick: () => { add(input.value); input.value = ''; input.focus(); } }, t('add')));
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); add(input.value); input.value = ''; } });
  return h('fieldset', { class: 'card' },
    h('legend', {}, t('parcels_optional')),
    canScan ? h('button', { type: 'button', class: 'btn', id: 'scan', onclick: () => openScanner(add) }, t('scan_barcode')) : null,
    h('label', { for: 'barcode' }, canScan ? t('or_type_code') : t('type_code')),
    manual, list);
}

function openScanner(add) {
  const video = h('video', { playsinline: true, muted: true, 'aria-label': t('camera') });
  const abort = new AbortController();
  const status = h('p', { role: 'status' }, t('point_camera'));
  const dialog = h('dialog', { class: 'scanner', 'aria-label': t('scan_a_barcode') }, video, status,
    h('button', { type: 'button', class: 'btn btn-big', onclick: () => abort.abort() }, t('cancel')));
  document.body.append(dialog);
  dialog.showModal();
  abort.signal.addEventListener('abort', () => { dialog.close(); dialog.remove(); });
  scanOnce(video, abort.signal).then((code) => {
    if (code) { add(code); toast(t('scanned', { code })); }
    abort.abort();
  }, (error) => {
    status.textContent = t('camera_failed', { error: error.message });
  });
}

function photoField(draft, { required, id }) {
  const preview = h('div', { class: 'preview' });
  const drawPreview = () => {
    preview.replaceChildren();
    if (draft.photo) {
      if (draft.photoUrl) URL.revokeObjectURL(draft.photoUrl);
      draft.photoUrl = URL.createObjectURL(draft.photo);
      preview.append(h('img', { src: draft.photoUrl, alt: t('photo_taken') }));
    }
    label.textContent = draft.photo ? t('take_photo_again') : t('take_photo');
  };
  const input = h('input', {
    id, class: 'visually-hidden', type: 'file', accept: 'image/*', capture: 'environment',
    onchange: async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      draft.photo = await shrinkPhoto(file);
      drawPreview();
    },
  });
  const label = h('label', { for: id, class: 'btn btn-big file-btn' }, t('take_photo'));
  drawPreview();
  return h('fieldset', { class: 'card' },
    h('legend', {}, required ? t('photo_required') : t('photo_optional')),
    input, label, preview, h('p', { class: 'field-error', role: 'alert', 'data-for': id }));
}

function changedNotice() {
  return h('p', { class: 'notice changed', hidden: true }, t('stop_removed'));
}

// The ways of handing over (the order's proof-of-delivery policy) and what each needs.
const HANDOVER = {
  signature: { needs: ['signature', 'recipient'] },
  signature_photo: { needs: ['signature', 'recipient', 'photo'] },
  photo: { needs: ['photo'] },
  safe_place: { needs: ['photo', 'note'] },
  neighbour: { needs: ['recipient'] },
};

/** The ways this stop allows; a server without policies sends only pod_required. */
function waysOf(stop) {
  const ways = (stop.handover || []).filter((w) => HANDOVER[w]);
  if (ways.length) return ways;
  const proofs = new Set(stop.pod_required || []);
  if (proofs.has('signature')) return [proofs.has('photo') ? 'signature_photo' : 'signature'];
  return [proofs.has('photo') ? 'photo' : 'signature'];
}

function deliverView(stop) {
  const draft = draftOf(stop);
  const ways = waysOf(stop);
  if (!ways.includes(draft.way)) draft.way = ways[0];
  let needs = new Set();
  const canvas = h('canvas', { class: 'signature', id: 'signature', 'aria-label': t('signature_draw') });
  let pad = null;
  const sigLegend = h('legend', {});
  const signature = h('fieldset', { class: 'card' },
    sigLegend,
    h('p', { class: 'muted', id: 'sig-help' }, t('signs_here')),
    canvas,
    h('button', { type: 'button', class: 'btn btn-small', id: 'clear-signature', onclick: () => pad?.clear() }, t('clear_signature')),
    h('p', { class: 'field-error', role: 'alert', 'data-for': 'signature' }));
  const recipient = h('input', { id: 'recipient', name: 'recipient', type: 'text', autocomplete: 'off', value: draft.recipient || '', oninput: (e) => { draft.recipient = e.target.value; } });
  const note = h('textarea', { id: 'note', name: 'note', rows: 2, value: draft.note || '', oninput: (e) => { draft.note = e.target.value; } });
  const recipientLabel = h('label', { for: 'recipient' });
  const noteLabel = h('label', { for: 'note' });
  const photoBox = h('div', {});
  const choice = h('fieldset', { class: 'card handover', hidden: ways.length < 2 },
    h('legend', {}, t('how_handed_over')),
    ...ways.map((w) => h('label', { class: 'radio' },
      h('input', { type: 'radio', name: 'handover', value: w, id: `handover-${w}`, checked: w === draft.way,
        onchange: () => { draft.way = w; show(); } }),
      ' ', t(`handover_${w}`))));
  function show() {
    needs = new Set(HANDOVER[draft.way].needs);
    photoBox.replaceChildren(photoField(draft, { required: needs.has('photo'), id: 'photo' }));
    sigLegend.textContent = needs.has('signature') ? t('signature_required') : t('signature_optional');
    signature.hidden = !['signature', 'signature_photo', 'neighbour'].includes(draft.way);
    recipientLabel.textContent = draft.way === 'neighbour' ? t('neighbour_name')
      : needs.has('recipient') ? t('received_by_required') : t('received_by');
    noteLabel.textContent = draft.way === 'safe_place' ? t('where_left') : t('note_optional');
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  }
  const form = h('form', { class: 'stack', novalidate: true, onsubmit: (e) => { e.preventDefault(); submit(); } },
    changedNotice(),
    h('div', {}, h('h2', { tabindex: -1 }, t('delivered_pod')),
      h('p', { class: 'address' }, stop.address || stop.external_id)),
    choice,
    photoBox,
    signature,
    h('div', { class: 'card' },
      recipientLabel,
      recipient,
      h('p', { class: 'field-error', role: 'alert', 'data-for': 'recipient' }),
      noteLabel,
      note,
      h('p', { class: 'field-error', role: 'alert', 'data-for': 'note' })),
    barcodeSection(draft),
    h('button', { type: 'submit', class: 'btn btn-ok btn-big', id: 'confirm-delivered' }, t('confirm_delivery')));
  show();
  // The canvas needs its size on screen, known once it is in the page.
  requestAnimationFrame(() => { pad = new SignaturePad(canvas); draft.pad = pad; });

  async function submit() {
    const errors = {};
    if (needs.has('photo') && !draft.photo) errors.photo = draft.way === 'safe_place' ? t('photo_of_place') : t('photo_of_parcel');
    if (needs.has('signature') && (!pad || pad.empty)) errors.signature = t('must_sign');
    if (needs.has('recipient') && !recipient.value.trim()) errors.recipient = draft.way === 'neighbour' ? t('write_neighbour') : t('write_signer');
    if (needs.has('note') && !note.value.trim()) errors.note = t('write_where');
    for (const el of form.querySelectorAll('.field-error')) el.textContent = errors[el.dataset.for] || '';
    const first = Object.keys(errors)[0];
    if (first) { $(first)?.scrollIntoView({ block: 'center' }); return; }
    const button = form.querySelector('#confirm-delivered');
    button.disabled = true;
    takeTypedCode(form, draft);
    const attachments = [];
    if (draft.photo) attachments.push({ kind: 'photo', blob: draft.photo, name: 'photo.jpg' });
    if (pad && !pad.empty && !signature.hidden) attachments.push({ kind: 'signature', blob: await pad.toBlob(), name: 'signature.png' });
    await act('delivered', stop, {
      recipient: recipient.value.trim(), note: note.value.trim(), barcodes: [...draft.barcodes],
      handover: draft.way,
    }, attachments);
    forget(stop);
    toast(t('stop_delivered_toast', { n: stop.sequence }));
    location.replace('#/');
  }
  return form;
}

function failView(stop) {
  const draft = draftOf(stop);
  const reasons = h('fieldset', { class: 'card reasons' },
    h('legend', {}, t('why_failed')),
    REASONS.map((code) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'reason', value: code, checked: draft.reason === code, onchange: () => { draft.reason = code; } }),
      h('span', {}, t(`reason_${code}`)))),
    h('p', { class: 'field-error', role: 'alert', 'data-for': 'reason' }));
  const note = h('textarea', { id: 'fail-note', name: 'note', rows: 3, value: draft.note || '', oninput: (e) => { draft.note = e.target.value; } });
  const form = h('form', { class: 'stack', novalidate: true, onsubmit: (e) => { e.preventDefault(); submit(); } },
    changedNotice(),
    h('div', {}, h('h2', { tabindex: -1 }, t('not_delivered')),
      h('p', { class: 'address' }, stop.address || stop.external_id)),
    reasons,
    h('div', { class: 'card' },
      h('label', { for: 'fail-note' }, t('note_other_required')),
      note,
      h('p', { class: 'field-error', role: 'alert', 'data-for': 'fail-note' })),
    photoField(draft, { required: false, id: 'fail-photo' }),
    barcodeSection(draft),
    h('button', { type: 'submit', class: 'btn btn-danger btn-big', id: 'confirm-failed' }, t('confirm_failed')));

  async function submit() {
    const errors = {};
    if (!draft.reason) errors.reason = t('choose_reason');
    if (draft.reason === 'other' && !note.value.trim()) errors['fail-note'] = t('say_what');
    for (const el of form.querySelectorAll('.field-error')) el.textContent = errors[el.dataset.for] || '';
    if (Object.keys(errors).length) return;
    form.querySelector('#confirm-failed').disabled = true;
    takeTypedCode(form, draft);
    const attachments = draft.photo ? [{ kind: 'photo', blob: draft.photo, name: 'photo.jpg' }] : [];
    await act('failed', stop, { reason: draft.reason, note: note.value.trim(), barcodes: [...draft.barcodes] }, attachments);
    forget(stop);
    toast(t('stop_failed_toast', { n: stop.sequence }));
    location.replace('#/');
  }
  return form;
}

boot().catch((error) => {
  main().replaceChildren(h('div', { class: 'card', role: 'alert' },
    h('h2', {}, t('cannot_start')), h('p', {}, String(error.message || error)),
    h('p', {}, t('cannot_start_help'))));
});
