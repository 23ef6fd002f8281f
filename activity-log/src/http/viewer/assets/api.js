// Talking to the activity router: the token from the URL fragment sent as
// `Authorization: Bearer` on every request (never in a URL a server logs).

const BASE = new URL('../', import.meta.url); // the router's mount point

/** The viewer token from `#token=...`, or null. */
export function token() {
  return new URLSearchParams(location.hash.slice(1)).get('token');
}

/** A refused request: the problem's status and detail. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function url(path, params) {
  const u = new URL(path, BASE);
  if (params) u.search = params.toString();
  return u;
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${token()}`, ...extra };
}

async function refused(res) {
  let detail = `${res.status} ${res.statusText}`;
  try {
    const p = await res.json();
    if (p && typeof p.detail === 'string') detail = p.detail;
  } catch { /* not a problem document */ }
  return new ApiError(res.status, detail);
}

/** GET a JSON document. */
export async function getJson(path, params, signal) {
  const res = await fetch(url(path, params), { headers: headers({ Accept: 'application/json' }), signal });
  if (!res.ok) throw await refused(res);
  return res.json();
}

/** Fetches an export and hands it to the browser as a download. */
export async function download(params, format) {
  const p = new URLSearchParams(params);
  p.set('format', format);
  const res = await fetch(url('activities/export', p), { headers: headers() });
  if (!res.ok) throw await refused(res);
  const blob = await res.blob();
  const disposition = res.headers.get('Content-Disposition') || '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || `activities.${format}`;
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
  return blob.size;
}

/**
 * The live tail: Server-Sent Events read with fetch() (EventSource cannot
 * send headers). Calls `onEvent({event, id, data})` for each event until
 * `signal` aborts or the stream ends.
 */
export async function sse(params, lastEventId, signal, onEvent) {
  const extra = { Accept: 'text/event-stream' };
  if (lastEventId) extra['Last-Event-ID'] = lastEventId;
  const res = await fetch(url('activities/stream', params), { headers: headers(extra), signal, cache: 'no-store' });
  if (!res.ok) throw await refused(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const event = { event: 'message', id: null, data: '' };
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue; // keep-alive comment
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event.event = val;
        else if (field === 'id') event.id = val;
        else if (field === 'data') data.push(val);
      }
      if (data.length) {
        event.data = data.join('\n');
        onEvent(event);
      }
    }
  }
}
