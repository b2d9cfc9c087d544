// Service worker of the lastmile driver app (rendered by lastmile/drivers/pages.py).
// The shell and the app's files are precached under VERSION (a hash of their contents) and
// served from the cache first, so the app opens with no signal. The last answer of
// GET /api/v1/driver/route is kept too (network first, the copy when offline). Everything
// else, and every write, goes to the network untouched: the app queues writes itself.
const VERSION = @@version@@;
const SHELL = @@shell@@;
const SCOPE = @@scope@@;
const SHELL_CACHE = `driver-shell-${VERSION}`;
const DATA_CACHE = 'driver-data';
const ROUTE_PATH = '/api/v1/driver/route';

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('driver-shell-') && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  // The app asks for this on log out: the last route belongs to the driver who left.
  if (event.data === 'forget-data') event.waitUntil(caches.delete(DATA_CACHE));
});

async function fromShell(request) {
  const cache = await caches.open(SHELL_CACHE);
  const url = new URL(request.url);
  const key = request.mode === 'navigate' ? SCOPE : url.pathname;
  const hit = await cache.match(key, { ignoreSearch: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && request.mode !== 'navigate') await cache.put(key, response.clone());
  return response;
}

async function route(request) {
  const cache = await caches.open(DATA_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(ROUTE_PATH, response.clone());
    return response;
  } catch (error) {
    const hit = await cache.match(ROUTE_PATH);
    if (hit) {
      const headers = new Headers(hit.headers);
      headers.set('X-Lastmile-Offline-Copy', '1');
      return new Response(hit.body, { status: hit.status, headers });
    }
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === SCOPE || url.pathname === SCOPE + '/' ||
      SHELL.includes(url.pathname)) {
    event.respondWith(fromShell(request));
  } else if (url.pathname === ROUTE_PATH && !url.searchParams.has('date')) {
    event.respondWith(route(request));
  }
});
