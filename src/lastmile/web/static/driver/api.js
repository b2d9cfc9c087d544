// The driver API over fetch(), with a time limit: on a weak signal a request can hang for
// minutes, and the outbox must rather try again later.

export class NetworkError extends Error {}

export class HttpError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

let token = null;
export function setToken(value) { token = value; }

export async function request(path, { method = 'GET', json, form, timeoutMs = 20000, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal: abort.signal, cache: 'no-store' });
  } catch (error) {
    throw new NetworkError(error && error.name === 'AbortError' ? 'the server did not answer in time' : 'no connection');
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  const type = response.headers.get('content-type') || '';
  if (type.includes('json')) {
    try { data = await response.json(); } catch { data = null; }
  }
  if (!response.ok) throw new HttpError(response.status, data);
  return { status: response.status, data, offlineCopy: response.headers.has('X-Lastmile-Offline-Copy') };
}

/** Read a Server-Sent Events stream with fetch (EventSource cannot send a bearer token). */
export async function stream(path, { onEvent, onOpen, signal }) {
  const response = await fetch(path, {
    headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}` },
    signal,
    cache: 'no-store',
  });
  if (!response.ok || !response.body) throw new HttpError(response.status, null);
  onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // keep-alive comment
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') type = text;
        else if (field === 'data') data.push(text);
      }
      if (data.length || type !== 'message') onEvent(type, data.join('\n'));
    }
  }
}
