// The HTTP API of DESIGN.md section 3: JSON in, JSON out, RFC 9457 problems on error.

/** A non-2xx answer, carrying the problem document when the server sent one. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter = null) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.retryAfter = retryAfter;
  }

  /** The field errors of a 422: [{field, message}]. */
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

/** The server could not be reached at all. */
export class NetworkError extends Error {}

async function request(method, path, { body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new NetworkError('The server cannot be reached.');
  }
  const type = response.headers.get('Content-Type') || '';
  let payload = null;
  if (type.includes('json')) {
    payload = await response.json().catch(() => null);
  } else {
    const text = await response.text().catch(() => '');
    payload = response.ok ? text : { title: response.statusText, detail: text.slice(0, 300) };
  }
  if (!response.ok) {
    throw new ApiError(response.status, payload, response.headers.get('Retry-After'));
  }
  return { status: response.status, data: payload, location: response.headers.get('Location') };
}

export const api = {
  health: (signal) => request('GET', '/healthz', { signal }).then((r) => r.data),
  patterns: () => request('GET', '/patterns').then((r) => r.data.patterns || []),
  run: (id, signal) => request('GET', `/runs/${encodeURIComponent(id)}`, { signal }).then((r) => r.data),
  waitRun: (id, seconds, signal) =>
    request('GET', `/runs/${encodeURIComponent(id)}?wait=${seconds}`, { signal }).then((r) => r.data),
  launch: (pattern, params) =>
    request('POST', `/patterns/${encodeURIComponent(pattern)}/runs`, { body: params }).then((r) => r.data),
  cancel: (id) => request('DELETE', `/runs/${encodeURIComponent(id)}`).then((r) => r.data),
  // A cursor carries the filters of the listing it continues: the next page is asked with it alone.
  runs: ({ pattern, status, limit = 20, cursor } = {}, signal) => {
    const query = new URLSearchParams();
    if (cursor) {
      query.set('cursor', cursor);
    } else {
      if (pattern) query.set('pattern', pattern);
      if (status) query.set('status', status);
    }
    query.set('limit', String(limit));
    return request('GET', `/runs?${query}`, { signal }).then((r) => r.data);
  },
};

export const TERMINAL_STATUSES = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);
export const ALL_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'];
