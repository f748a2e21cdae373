// A run's event stream over EventSource, resilient to dropped connections.
//
// EventSource reconnects by itself and sends Last-Event-ID, so the server resumes after the
// last frame we saw. When the browser gives up (readyState CLOSED: an HTTP error, a wrong
// content type), we open a new EventSource with ?after=N ourselves, with backoff, and after
// a few failures fall back to long-polling the run. Frames with an id we already applied are
// skipped, so a replay never double-counts.

import { api, ApiError, TERMINAL_STATUSES } from './api.js';

/**
 * Events every run may emit (and `server.shutdown`, a stream's last word when the server
 * stops); the catalog entry's `events` lists the pattern's own. Tests/e2e/test_page_vocabulary.py
 * checks both against what the server emits.
 */
export const COMMON_EVENTS = [
  'run.started', 'run.finished', 'task.started', 'task.finished', 'task.failed', 'task.cancelled',
  'task.timeout', 'progress', 'server.shutdown',
];

const MANUAL_RETRIES = 4;

export class RunStream {
  /**
   * @param {string} runId
   * @param {string[]} extraNames pattern event names from the catalog
   * @param {{onEvent: (name, data, id) => void, onState: (state) => void, onFinished: (run) => void,
   *          onLost?: (message) => void, onNotice?: (message) => void}} handlers
   */
  constructor(runId, extraNames, handlers) {
    this.runId = runId;
    this.names = [...new Set([...COMMON_EVENTS, ...extraNames])];
    this.handlers = handlers;
    this.lastId = 0;
    this.failures = 0;
    this.closed = false;
    this.source = null;
    this.retryTimer = 0;
    this.poller = null;
  }

  start() {
    this.open(`/runs/${encodeURIComponent(this.runId)}/events`);
  }

  open(url) {
    if (this.closed) return;
    this.setState(this.lastId ? 'reconnecting' : 'connecting');
    const source = new EventSource(url);
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.setState('live');
    };
    source.onerror = () => {
      if (this.closed || source !== this.source) return;
      if (source.readyState === EventSource.CONNECTING) {
        this.setState('reconnecting');  // the browser retries with Last-Event-ID
        return;
      }
      source.close();
      this.retryManually();
    };
    const listener = (event) => this.deliver(event);
    for (const name of this.names) source.addEventListener(name, listener);
  }

  deliver(event) {
    if (this.closed) return;
    if (event.type === 'server.shutdown') {
      // Sent without an id as the server stops; the browser reconnects when it is back.
      this.setState('reconnecting');
      this.handlers.onNotice?.('The server is shutting down; the page reconnects when it is back.');
      return;
    }
    const id = Number(event.lastEventId);
    if (Number.isFinite(id) && id > 0) {
      if (id <= this.lastId) return;
      this.lastId = id;
    }
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = { raw: event.data };
    }
    if (this.state !== 'live') this.setState('live');
    if (event.type === 'run.finished') {
      this.finish(data);
      return;
    }
    this.handlers.onEvent(event.type, data, id);
  }

  retryManually() {
    this.failures += 1;
    if (this.failures > MANUAL_RETRIES) {
      this.pollUntilDone();
      return;
    }
    this.setState('reconnecting');
    const delay = Math.min(8000, 500 * 2 ** (this.failures - 1));
    const url = `/runs/${encodeURIComponent(this.runId)}/events?after=${this.lastId}`;
    this.retryTimer = setTimeout(() => this.open(url), delay);
  }

  /** The stream keeps failing: ask for the run itself until it ends. */
  async pollUntilDone() {
    this.setState('reconnecting');
    this.poller = new AbortController();
    while (!this.closed) {
      try {
        const run = await api.waitRun(this.runId, 10, this.poller.signal);
        if (TERMINAL_STATUSES.has(run.status)) {
          this.finish(run);
          return;
        }
        this.handlers.onEvent('progress', { ...run.progress, t_ms: null }, 0);
      } catch (error) {
        if (this.closed || error.name === 'AbortError') return;
        if (error instanceof ApiError && error.status === 404) {
          this.stop('closed');
          this.handlers.onLost?.('The server no longer knows this run.');
          return;
        }
        await new Promise((resolve) => { this.retryTimer = setTimeout(resolve, 3000); });
      }
    }
  }

  finish(run) {
    this.stop('closed');
    this.handlers.onFinished(run);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.handlers.onState(state);
  }

  /** Ends the stream for good (the run ended, or the page moved on). */
  stop(state = 'closed') {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.poller?.abort();
    if (this.source) this.source.close();
    this.setState(state);
  }
}
