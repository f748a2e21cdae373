// One run on screen: status, connection, progress, timeline with the pattern's counters,
// checks, figures, raw JSON; then replay, trace download and comparison once it has ended.
//
// Live and replay are one renderer fed by events (RunModel): a run still going is followed
// through its event stream and drawn as it stands now; a finished one is drawn from its Run
// document at once, then its whole event log is read (GET /runs/{id}/events, which replays a
// stored run too) and it can be played back, paused and scrubbed: every panel shows the run as
// it stood at the instant shown.

import { api, ApiError, TERMINAL_STATUSES } from './api.js';
import { h, replace, toast } from './dom.js';
import { fetchEvents } from './event-history.js';
import { absoluteTime, copyText, count, curlCommand, humanize, ms, value } from './format.js';
import { ReplayControls } from './replay.js';
import { rerunForm } from './rerun.js';
import { buildRunPanel, fillChecks } from './run-panel.js';
import { RunModel } from './run-model.js';
import { RunStream } from './stream.js';
import { Timeline } from './timeline.js';

const CONNECTION_TEXT = {
  connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', closed: 'closed', loading: 'loading events…',
};
/** The server keeps this many spans by default (DESIGN.md section 5); a live layout guess. */
const SPAN_CAP_GUESS = 10_000;

export class RunView {
  /**
   * @param {HTMLElement} container where the panel goes
   * @param {object} entry the run's catalog entry (its events and counters), or null
   * @param {(run) => void} onChange called when the run's status changes
   * @param {{embedded?: boolean}} options embedded: part of a comparison, which owns the replay
   */
  constructor(container, entry, onChange = () => {}, { embedded = false } = {}) {
    this.container = container;
    this.entry = entry;
    this.onChange = onChange;
    this.embedded = embedded;
    this.stream = null;
    this.replay = null;
    this.frame = 0;
    this.lastRender = 0;
    this.liveRenders = 0;
    this.disposed = false;
    this.axis = { max: 0, gutter: undefined };
    this.history = new AbortController();
    this.ready = new Promise((resolve) => { this.markReady = resolve; });
  }

  /** Shows `run` (a Run document): follows it while it runs, then offers its replay. */
  open(run) {
    this.run = run;
    this.model = new RunModel(this.entry?.counters || []);
    this.lastAt = performance.now();
    this.openedAt = performance.now();
    this.build();
    if (TERMINAL_STATUSES.has(run.status)) {
      this.model.adoptRecord(run);
      this.showAt(this.model.endMs);
      this.panel.dataset.firstDrawMs = (performance.now() - this.openedAt).toFixed(1);
      this.loadHistory();
      return;
    }
    this.showAt(0);
    this.follow();
  }

  /** Follows a live run through its event stream. */
  follow() {
    this.stream = new RunStream(this.run.id, this.entry?.events || [], {
      onEvent: (name, data, id) => this.apply(name, data, id),
      onState: (state) => this.setConnection(state),
      onFinished: (finished) => this.finished(finished),
      onNotice: (message) => toast(message),
      onLost: (message) => {
        this.errorBox.hidden = false;
        this.errorBox.textContent = message;
        cancelAnimationFrame(this.frame);
      },
    });
    this.stream.start();
    this.loop();
  }

  dispose() {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    clearInterval(this.idleTimer);
    this.history.abort();
    this.stream?.stop();
    this.replay?.dispose();
    this.timeline?.dispose();
  }

  // -- building -------------------------------------------------------------------------

  build() {
    Object.assign(this, buildRunPanel(this.run, {
      embedded: this.embedded, onCancel: () => this.cancel(), onCopyCurl: () => this.copyCurl(),
      onRawOpen: () => this.renderRaw(),
    }));
    replace(this.container, this.panel);
    this.timeline = new Timeline(this.timelineRoot);
  }

  // -- events ---------------------------------------------------------------------------

  apply(name, data, id) {
    this.model.apply(name, data, id);
    this.lastAt = performance.now();
    if (name === 'run.started') {
      this.run = { ...this.run, status: 'running' };
      this.renderHeader();
      this.onChange(this.run);
    } else if (name === 'progress' && this.run.status === 'queued') {
      this.run = { ...this.run, status: 'running' };
    }
    this.dirty = true;
  }

  /** The live run ended: its record is the truth; its replay needs every event it had. */
  finished(run) {
    if (this.disposed) return;
    this.run = run;
    this.model.adoptRecord(run);
    cancelAnimationFrame(this.frame);
    this.renderHeader();
    this.onChange(run);
    // The stream saw every event unless it fell back to polling: then read the log again.
    const complete = this.stream && this.stream.lastId === this.model.lastId + 1;
    if (complete) this.historyReady();
    else this.loadHistory();
  }

  /** Reads the ended run's whole event log, then offers its replay. */
  async loadHistory() {
    this.setConnection('loading');
    try {
      const events = await fetchEvents(this.run.id, { signal: this.history.signal });
      if (this.disposed) return;
      const model = new RunModel(this.entry?.counters || []);
      for (const event of events) {
        if (event.name !== 'run.finished') model.apply(event.name, event.data, event.id);
      }
      model.adoptRecord(this.run);
      this.model = model;
    } catch (error) {
      if (error.name === 'AbortError' || this.disposed) return;
      toast(`The replay is unavailable: ${error.message}`);
    }
    this.historyReady();
  }

  historyReady() {
    this.setConnection('closed');
    const end = this.model.endMs;
    if (!this.embedded) {
      this.replay?.dispose();
      this.replay = new ReplayControls(end, (t) => this.showAt(t));
      replace(this.replaySlot, this.replay.element);
      replace(this.compareSlot, rerunForm(this.entry, this.run));
    }
    this.showAt(end);
    this.panel.dataset.replayReadyMs = (performance.now() - this.openedAt).toFixed(1);
    this.panel.dataset.events = String(this.model.eventCount);
    this.markReady();
  }

  setConnection(state) {
    if (!this.connection) return;
    this.connection.dataset.state = state;
    // Every state this run's stream went through, in order: tests read it, people need not.
    this.connection.dataset.seen = [this.connection.dataset.seen, state].filter(Boolean).join(' ');
    this.connection.querySelector('.connection-text').textContent = CONNECTION_TEXT[state] || state;
  }

  // -- actions --------------------------------------------------------------------------

  async cancel() {
    this.cancelButton.disabled = true;
    this.cancelButton.textContent = 'Cancelling…';
    try {
      const run = await api.cancel(this.run.id);
      if (TERMINAL_STATUSES.has(run.status)) this.stream?.finish(run);
      else toast('Cancellation requested');
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        toast('The run had already ended');
      } else {
        toast(`Could not cancel: ${error.message}`);
        this.cancelButton.disabled = false;
        this.cancelButton.textContent = 'Cancel run';
      }
    }
  }

  async copyCurl() {
    const command = curlCommand(window.location.origin, this.run.pattern, this.run.params);
    this.curlOutput.textContent = command;
    this.curlOutput.hidden = false;
    toast(await copyText(command) ? 'curl command copied' : 'Select the command below to copy it');
  }

  // -- rendering ------------------------------------------------------------------------

  /** Whether the run keeps virtual time (its clock is not the wall's: never extrapolate it). */
  isVirtual() {
    return this.run.params?.clock === 'virtual';
  }

  isLive() {
    return !TERMINAL_STATUSES.has(this.run.status);
  }

  /** The live instant: the last event's time, moved on by the wall clock on a real run. */
  now() {
    if (!this.isLive()) return this.model.endMs;
    if (this.isVirtual()) return this.model.lastT;
    return this.model.lastT + (performance.now() - this.lastAt);
  }

  /** The run's end instant, for a comparison's shared axis. */
  get endMs() {
    return this.model.endMs;
  }

  /** Draws on a time axis shared with another run's: to `max`, past a fixed gutter. */
  shareAxis({ max, gutter }) {
    this.axis = { max, gutter };
  }

  /** While the run is live: redraw a few times a second, more often for small runs. */
  loop() {
    const tick = (timestamp) => {
      if (this.disposed || !this.isLive()) return;
      const interval = this.model.spans.size > 1000 ? 300 : 80;
      if (timestamp - this.lastRender >= interval) {
        this.lastRender = timestamp;
        this.showAt(this.now());
        if (this.run.status !== this.headerStatus) this.renderHeader();
      }
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
    // Background tabs get no animation frames: keep the markers and spans flowing anyway.
    this.idleTimer = setInterval(() => {
      if (this.disposed || !this.isLive()) { clearInterval(this.idleTimer); return; }
      if (document.hidden && this.dirty) this.showAt(this.now());
    }, 1000);
  }

  /** Draws every panel as the run stood at `t`. */
  showAt(t) {
    this.dirty = false;
    const live = this.isLive();
    const state = this.model.stateAt(t);
    const atEnd = !live && t >= this.model.endMs;
    this.shownAt = t;
    this.panel.dataset.shownT = String(t);
    this.panel.dataset.atEnd = String(atEnd);
    this.panel.dataset.started = String(state.spans.length);
    this.panel.dataset.running = String(state.spans.filter((span) => span.end_ms === null).length);
    this.panel.dataset.markers = String(state.markers.length);
    this.renderHeader();
    this.renderProgress(state, atEnd);
    this.renderTimeline(state, { live, atEnd });
    this.renderCounters(state);
    this.renderChecks(atEnd);
    this.renderResult(atEnd);
    if (this.rawDetails.open) this.renderRaw();
    if (live && this.run.status === 'running') {
      this.liveRenders += 1;
      this.panel.dataset.liveRenders = String(this.liveRenders);
    }
  }

  renderDuration() {
    if (this.isLive()) {
      this.duration.textContent = `${ms(this.now())} so far`;
    } else if (this.isVirtual()) {
      this.duration.textContent = `${ms(this.run.duration_ms)} of virtual time (${ms(this.run.real_ms)} real)`;
    } else {
      this.duration.textContent = ms(this.run.duration_ms);
    }
  }

  renderHeader() {
    const run = this.run;
    const live = this.isLive();
    this.headerStatus = run.status;
    this.status.textContent = run.status;
    this.status.dataset.status = run.status;
    this.status.className = `badge badge-${run.status}`;
    this.panel.dataset.status = run.status;
    this.panel.dataset.clock = this.isVirtual() ? 'virtual' : 'real';
    this.clockBadge.hidden = !this.isVirtual();
    this.cancelButton.hidden = !live;
    this.traceLink.hidden = live;
    if (live && !this.cancelButton.disabled) this.cancelButton.textContent = 'Cancel run';
    const rows = [
      ['pattern', h('a', { href: `#/patterns/${encodeURIComponent(run.pattern)}` }, run.pattern)],
      ['parameters', h('span', { class: 'param-chips' }, Object.entries(run.params || {}).map(([key, v]) =>
        h('code', { class: 'chip' }, `${key}=${Array.isArray(v) ? v.join(',') : v}`)))],
      ['started', h('time', { datetime: run.started_at || run.created_at || '' },
        absoluteTime(run.started_at || run.created_at) || '–')],
      ['duration', this.duration],
    ];
    replace(this.meta, rows.map(([term, detail]) => h('div', {}, h('dt', {}, term), h('dd', {}, detail))));
    this.renderDuration();
    this.errorBox.hidden = !run.error;
    this.errorBox.textContent = run.error ? `Error: ${run.error}` : '';
  }

  renderProgress(state, atEnd) {
    const total = state.total || this.run.progress?.total || 0;
    const completed = atEnd ? (this.run.progress?.completed ?? state.completed) : Math.min(state.completed, total || Infinity);
    const fraction = total > 0 ? Math.min(1, completed / total) : (atEnd ? 1 : 0);
    this.progressBar.style.width = `${(fraction * 100).toFixed(1)}%`;
    this.progress.setAttribute('aria-valuemax', String(total || 1));
    this.progress.setAttribute('aria-valuenow', String(completed));
    this.progress.dataset.completed = String(completed);
    this.progress.dataset.total = String(total);
    this.progressText.textContent = total ? `${count(completed)} / ${count(total)} tasks` : 'starting…';
  }

  renderTimeline(state, { live, atEnd }) {
    const timeline = this.run.timeline || {};
    const total = this.run.progress?.total || timeline.tasks || state.total || 0;
    const truncated = Boolean(timeline.truncated);
    const spansKept = this.model.spans.size;
    this.timeline.update({
      spans: state.spans,
      taskCount: live && total > SPAN_CAP_GUESS ? SPAN_CAP_GUESS : total,
      // A finished run keeps its rows while it is replayed: every task it started has one.
      rowCount: live ? undefined : Math.max(1, maxTask(this.model.spans) + 1, truncated ? 0 : timeline.tasks ?? 0),
      markers: state.markers,
      counters: state.counters,
      density: truncated || (live && total > SPAN_CAP_GUESS)
        ? { progress: this.model.progress,
          tasks: live ? Math.max(0, total - SPAN_CAP_GUESS) : Math.max(0, (timeline.tasks ?? total) - spansKept) } : null,
      now: live ? this.now() : state.t,
      showNow: !live && !atEnd,
      duration: live ? null : this.run.duration_ms,
      axisMax: this.axis.max,
      gutter: this.axis.gutter,
      live,
      truncated,
      tasks: timeline.tasks ?? total,
      outcomes: atEnd ? timeline.outcomes : null,
    });
  }

  /** The counters' values at the instant shown, also as text (and for tests). */
  renderCounters(state) {
    this.counterList.hidden = !state.counters.length;
    replace(this.counterList, state.counters.map((counter) => h('div', {
      class: 'counter-value', 'data-counter': counter.name, 'data-value': counter.value ?? '',
      title: counter.value === null && counter.knownUntil !== null && state.t > counter.knownUntil
        ? `Not recorded after ${ms(counter.knownUntil)}: the run dropped its per-task events past the cap` : null,
    }, h('dt', {}, counter.title), h('dd', {}, counter.value === null ? '–' : count(counter.value)))));
  }

  renderChecks(atEnd) {
    fillChecks(this, this.run, atEnd);
  }

  renderResult(atEnd) {
    const result = this.run.result;
    if (!result || !Object.keys(result).length || !atEnd) {
      replace(this.result, h('p', { class: 'empty' }, !TERMINAL_STATUSES.has(this.run.status)
        ? 'The pattern’s figures appear when the run ends.'
        : result ? `The figures are the run’s at its end, ${ms(this.run.duration_ms)}.` : 'No figures for this run.'));
      return;
    }
    replace(this.result, h('dl', { class: 'figures' }, Object.entries(result).map(([key, raw]) =>
      h('div', { class: 'figure', 'data-key': key },
        h('dt', {}, humanize(key)), h('dd', {}, value(raw, key))))));
  }

  renderRaw() {
    this.raw.textContent = JSON.stringify(this.run, null, 2);
  }
}

function maxTask(spans) {
  let max = -1;
  for (const task of spans.keys()) max = Math.max(max, task);
  return max;
}
