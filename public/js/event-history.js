// A finished run's whole event log, read in one request: GET /runs/{id}/events answers a
// finished run (live in memory or read back from the store) with every event and ends after
// `run.finished`. Parsed here from the text/event-stream body, which is far cheaper than an
// EventSource dispatching tens of thousands of DOM events.

/** Parses complete SSE frames out of `text`; returns [frames, the unparsed tail]. */
export function parseFrames(text) {
  const frames = [];
  let start = 0;
  while (true) {
    const end = text.indexOf('\n\n', start);
    if (end < 0) break;
    const frame = { id: 0, name: 'message', data: '' };
    const data = [];
    for (const line of text.slice(start, end).split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') frame.id = Number(value);
      else if (field === 'event') frame.name = value;
      else if (field === 'data') data.push(value);
    }
    frame.data = data.join('\n');
    if (data.length) frames.push(frame);
    start = end + 2;
  }
  return [frames, text.slice(start)];
}

/**
 * Every event of the finished run `runId`: [{id, name, data}] in id order (`run.finished`'s data
 * is the whole run). Rejects on an HTTP error.
 */
export async function fetchEvents(runId, { signal } = {}) {
  const response = await fetch(`/runs/${encodeURIComponent(runId)}/events`, {
    headers: { Accept: 'text/event-stream' }, signal,
  });
  if (response.status === 204) return [];
  if (!response.ok) throw new Error(`the events could not be read (HTTP ${response.status})`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const events = [];
  let tail = '';
  while (true) {
    const { value, done } = await reader.read();
    tail += decoder.decode(value || new Uint8Array(), { stream: !done });
    const [frames, rest] = parseFrames(tail.replaceAll('\r\n', '\n'));
    tail = rest;
    for (const frame of frames) events.push({ id: frame.id, name: frame.name, data: JSON.parse(frame.data) });
    if (done || events.at(-1)?.name === 'run.finished') break;
  }
  reader.cancel().catch(() => {});
  return events;
}
