// One run on screen: status, live connection, progress, timeline, checks, figures, raw JSON.
//
// A run still going is followed through its event stream; a finished one is drawn from its
// Run document at once, and its events are replayed in the background only to add the
// pattern's markers to the timeline.

import { api, ApiError, TERMINAL_STATUSES } from './api.js';
import { h, replace, toast } from './dom.js';
import { absoluteTime, copyText, count, curlCommand, humanize, ms, value } from './format.js';
import { RunStream } from './stream.js';
import { Timeline } from './timeline.js';

const TASK_END_EVENTS = {
  'task.finished': 'ok', 'task.failed': 'error', 'task.cancelled': 'cancelled', 'task.timeout': 'timeout',
};
const STRUCTURAL_EVENTS = new Set(['run.started', 'task.started', 'progress', 'run.finished',
  ...Object.keys(TASK_END_EVENTS)]);
const CONNECTION_TEXT = {
  connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', closed: 'closed',
};
/** The server keeps this many spans by default (DESIGN.md section 5); a live layout guess. */
const SPAN_CAP_GUESS = 10_000;

export class RunView {
  /**
   * @param {HTMLElement} container where the panel goes
   * @param {object} entry the run's catalog entry (for its event names), or null
   * @param {(run) => void} onChange called when the run's status changes
   */
  constructor(container, entry, onChange = () => {}) {
    this.container = container;
    this.entry = entry;
    this.onChange = onChange;
    this.stream = null;
    this.frame = 0;
    this.lastRender = 0;
    this.liveRenders = 0;
    this.disposed = false;
  }

  /** Shows `run` (a Run document) and follows it while it runs. */
  open(run) {
    this.run = run;
    this.spans = new Map();
    this.markers = [];
    this.lastT = 0;
    this.lastAt = performance.now();
    this.ended = 0; // tasks seen ending on the stream: progress never shows less
    for (const span of run.timeline?.spans || []) this.spans.set(span.task, { ...span });
    this.build();
    this.renderAll();
    const live = !TERMINAL_STATUSES.has(run.status);
    this.replayOnly = !live;
    this.stream = new RunStream(run.id, this.entry?.events || [], {
      onEvent: (name, data, id) => this.apply(name, data, id),
      onState: (state) => this.setConnection(state),
      onFinished: (finished) => this.finished(finished),
      onNotice: (message) => toast(message),
      onLost: (message) => {
        this.replayOnly = true;
        this.errorBox.hidden = false;
        this.errorBox.textContent = message;
        cancelAnimationFrame(this.frame);
      },
    });
    this.stream.start();
    if (live) this.loop();
  }

  dispose() {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    clearInterval(this.idleTimer);
    this.stream?.stop();
    this.timeline?.dispose();
  }

  // -- building -------------------------------------------------------------------------

  build() {
    const run = this.run;
    this.status = h('span', { class: 'badge', 'data-testid': 'run-status' });
    this.clockBadge = h('span', { class: 'badge badge-virtual', 'data-testid': 'run-clock', hidden: true,
      title: 'Virtual time: the clock jumped to the next deadline whenever every task waited. '
        + 'Times and figures are in virtual time; the same parameters give the same run every time.' },
    'virtual time');
    this.connection = h('span', { class: 'connection', 'data-testid': 'connection', role: 'status',
      'aria-live': 'polite', title: 'Event stream connection' },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { class: 'connection-text' }));
    this.cancelButton = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'cancel-button',
      onclick: () => this.cancel() }, 'Cancel run');
    const curlButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'copy-curl-run',
      title: 'Copy a curl command that launches the same run', onclick: () => this.copyCurl() }, 'Copy as curl');
    this.curlOutput = h('pre', { class: 'curl-output', 'data-testid': 'curl-command', hidden: true });
    this.meta = h('dl', { class: 'run-meta' });
    this.duration = h('span', { 'data-testid': 'run-duration' });
    this.errorBox = h('p', { class: 'notice notice-error', 'data-testid': 'run-error', hidden: true });
    this.progressBar = h('div', { class: 'progress-fill' });
    this.progress = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0,
      'aria-label': 'Tasks completed', 'data-testid': 'progress' }, this.progressBar);
    this.progressText = h('span', { class: 'progress-text', 'data-testid': 'progress-text' });
    this.timelineRoot = h('div', { class: 'timeline' });
    this.checks = h('ul', { class: 'checks', 'data-testid': 'checks' });
    this.checksSummary = h('span', { class: 'section-note', 'data-testid': 'checks-summary' });
    this.result = h('div', { class: 'result', 'data-testid': 'result' });
    this.raw = h('pre', { class: 'raw-json', 'data-testid': 'raw-json' });
    const rawDetails = h('details', { class: 'raw', 'data-testid': 'raw-json-toggle',
      ontoggle: () => { if (rawDetails.open) this.renderRaw(); } },
    h('summary', {}, 'Raw JSON'), this.raw);
    this.rawDetails = rawDetails;

    this.panel = h('section', { class: 'card run-panel', 'data-testid': 'run-panel', 'data-run-id': run.id,
      'aria-labelledby': 'run-title' },
    h('header', { class: 'run-head' },
      h('div', { class: 'run-title-row' },
        h('h2', { id: 'run-title', class: 'run-title' }, 'Run ', h('code', { 'data-testid': 'run-id' }, run.id)),
        this.status, this.clockBadge, this.connection),
      h('div', { class: 'run-actions' }, this.cancelButton, curlButton)),
    this.curlOutput,
    this.meta,
    this.errorBox,
    h('div', { class: 'progress-row' }, this.progress, this.progressText),
    h('section', { class: 'run-section', 'aria-label': 'Timeline' },
      h('h3', {}, 'Timeline'), this.timelineRoot),
    h('div', { class: 'run-columns' },
      h('section', { class: 'run-section', 'aria-label': 'Checks' },
        h('h3', {}, 'Checks ', this.checksSummary), this.checks),
      h('section', { class: 'run-section', 'aria-label': 'Result' },
        h('h3', {}, 'Result'), this.result)),
    rawDetails);
    replace(this.container, this.panel);
    this.timeline = new Timeline(this.timelineRoot);
  }

  // -- events ---------------------------------------------------------------------------

  apply(name, data, _id) {
    if (typeof data.t_ms === 'number' && data.t_ms >= this.lastT) {
      this.lastT = data.t_ms;
      this.lastAt = performance.now();
    }
    if (this.replayOnly) {
      if (!STRUCTURAL_EVENTS.has(name)) this.addMarker(name, data);
      this.schedule();
      return;
    }
    if (name === 'run.started') {
      this.run = { ...this.run, status: 'running' };
      this.renderHeader();
      this.onChange(this.run);
    } else if (name === 'task.started') {
      const span = this.spans.get(data.task);
      if (!span) {
        this.spans.set(data.task, { task: data.task, label: data.label, start_ms: data.t_ms, end_ms: null, outcome: null });
      }
    } else if (name in TASK_END_EVENTS) {
      const span = this.spans.get(data.task) || {
        task: data.task, label: data.label, start_ms: data.t_ms - (data.duration_ms || 0),
      };
      if (span.end_ms === null || span.end_ms === undefined) this.ended += 1;
      this.spans.set(data.task, { ...span, end_ms: data.t_ms, outcome: TASK_END_EVENTS[name], error: data.error });
    } else if (name === 'progress') {
      this.run = { ...this.run, progress: { completed: data.completed, total: data.total } };
      if (this.run.status === 'queued') this.run.status = 'running';
    } else {
      this.addMarker(name, data);
    }
    this.schedule();
  }

  addMarker(name, data) {
    this.markers.push({ name, t: data.t_ms ?? this.lastT, task: data.task, data });
  }

  finished(run) {
    if (this.disposed) return;
    const wasLive = !this.replayOnly;
    this.run = run;
    this.replayOnly = true;
    // The run's own timeline is the record; keep what the stream built if it has none.
    if (Array.isArray(run.timeline?.spans) && (wasLive || !this.spans.size)) {
      this.spans = new Map(run.timeline.spans.map((span) => [span.task, { ...span }]));
    }
    cancelAnimationFrame(this.frame);
    this.renderAll();
    if (wasLive) this.onChange(run);
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
      if (TERMINAL_STATUSES.has(run.status)) this.finished(run);
      else toast('Cancellation requested');
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        toast('The run had already ended');
        api.run(this.run.id).then((run) => this.finished(run), () => {});
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

  now() {
    if (TERMINAL_STATUSES.has(this.run.status)) return this.run.duration_ms ?? this.lastT;
    if (this.isVirtual()) return this.lastT;
    return this.lastT + (performance.now() - this.lastAt);
  }

  schedule() {
    this.dirty = true;
  }

  /** While the run is live: redraw a few times a second, more often for small runs. */
  loop() {
    const tick = (timestamp) => {
      if (this.disposed || this.replayOnly) return;
      const interval = this.spans.size > 1000 ? 300 : 80;
      if (timestamp - this.lastRender >= interval) {
        this.lastRender = timestamp;
        this.renderTimeline();
        this.renderProgress();
        this.renderDuration();
        if (this.run.status !== this.headerStatus) this.renderHeader();
      }
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
    // Background tabs get no animation frames: keep the markers and spans flowing anyway.
    this.idleTimer = setInterval(() => {
      if (this.disposed || this.replayOnly) { clearInterval(this.idleTimer); return; }
      if (document.hidden && this.dirty) {
        this.renderTimeline();
        this.renderProgress();
      }
    }, 1000);
  }

  renderAll() {
    this.renderHeader();
    this.renderProgress();
    this.renderTimeline();
    this.renderChecks();
    this.renderResult();
    if (this.rawDetails.open) this.renderRaw();
  }

  renderDuration() {
    const live = !TERMINAL_STATUSES.has(this.run.status);
    if (live) {
      this.duration.textContent = `${ms(this.now())} so far`;
    } else if (this.isVirtual()) {
      this.duration.textContent = `${ms(this.run.duration_ms)} of virtual time (${ms(this.run.real_ms)} real)`;
    } else {
      this.duration.textContent = ms(this.run.duration_ms);
    }
  }

  renderHeader() {
    const run = this.run;
    const live = !TERMINAL_STATUSES.has(run.status);
    this.headerStatus = run.status;
    this.status.textContent = run.status;
    this.status.dataset.status = run.status;
    this.status.className = `badge badge-${run.status}`;
    this.panel.dataset.status = run.status;
    this.panel.dataset.clock = this.isVirtual() ? 'virtual' : 'real';
    this.clockBadge.hidden = !this.isVirtual();
    this.cancelButton.hidden = !live;
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

  renderProgress() {
    const total = this.run.progress?.total || 0;
    // Progress events are coalesced; task ends arrive one by one, so count those too.
    const completed = Math.max(this.run.progress?.completed || 0, Math.min(this.ended || 0, total || Infinity));
    const fraction = total > 0 ? Math.min(1, completed / total) : (TERMINAL_STATUSES.has(this.run.status) ? 1 : 0);
    this.progressBar.style.width = `${(fraction * 100).toFixed(1)}%`;
    this.progress.setAttribute('aria-valuemax', String(total || 1));
    this.progress.setAttribute('aria-valuenow', String(completed));
    this.progress.dataset.completed = String(completed);
    this.progress.dataset.total = String(total);
    this.progressText.textContent = total ? `${count(completed)} / ${count(total)} tasks` : 'starting…';
  }

  renderTimeline() {
    this.dirty = false;
    const run = this.run;
    const live = !TERMINAL_STATUSES.has(run.status);
    const timeline = run.timeline || {};
    const total = run.progress?.total || timeline.tasks || 0;
    this.timeline.update({
      spans: this.spans.values(),
      taskCount: live && total > SPAN_CAP_GUESS ? SPAN_CAP_GUESS : total,
      markers: this.markers,
      now: this.now(),
      duration: live ? null : run.duration_ms,
      live,
      truncated: Boolean(timeline.truncated),
      tasks: timeline.tasks ?? total,
      outcomes: live ? null : timeline.outcomes,
    });
    if (live && run.status === 'running') {
      this.liveRenders += 1;
      this.panel.dataset.liveRenders = String(this.liveRenders);
    }
  }

  renderChecks() {
    const checks = this.run.checks || [];
    if (!checks.length) {
      const text = TERMINAL_STATUSES.has(this.run.status)
        ? 'This run reported no checks.' : 'Checks are computed from what the run observed, when it ends.';
      replace(this.checks, h('li', { class: 'empty' }, text));
      this.checksSummary.textContent = '';
      this.checks.dataset.state = 'pending';
      return;
    }
    const passed = checks.filter((check) => check.passed).length;
    this.checksSummary.textContent = `${passed} of ${checks.length} passed`;
    this.checks.dataset.state = passed === checks.length ? 'passed' : 'failed';
    replace(this.checks, checks.map((check) => h('li', {
      class: `check ${check.passed ? 'check-pass' : 'check-fail'}`, 'data-testid': 'check',
      'data-passed': String(check.passed), 'data-name': check.name,
    },
    h('span', { class: 'check-icon', 'aria-hidden': 'true' }, check.passed ? '✓' : '✗'),
    h('span', { class: 'check-body' },
      h('span', { class: 'check-name' }, humanize(check.name),
        h('span', { class: 'visually-hidden' }, check.passed ? ' (passed)' : ' (failed)')),
      h('span', { class: 'check-values' },
        'expected ', h('code', {}, check.expected), ' · observed ',
        h('code', {}, value(check.observed, check.name)))))));
  }

  renderResult() {
    const result = this.run.result;
    if (!result || !Object.keys(result).length) {
      replace(this.result, h('p', { class: 'empty' }, TERMINAL_STATUSES.has(this.run.status)
        ? 'No figures for this run.' : 'The pattern’s figures appear when the run ends.'));
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
