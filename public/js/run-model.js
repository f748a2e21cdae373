// A run's state, rebuilt from its events: the one model the live view, the replay and the
// comparison draw from.
//
// Events are applied in id order, as the stream delivers them (live) or as the event log replays
// them (a finished run, also one read back from the store after a restart). stateAt(t) is the
// run as it stood at `t` ms of its own time (virtual time for a virtual run): the spans started
// by then (those still going drawn as running), the pattern's markers, every counter's value,
// and how many tasks had completed (markers and counter points are kept in time order, the
// log's). Once the run has ended, its timeline's spans (the record,
// which the span cap also bounds) replace the ones the task events built: the events may be
// capped sooner than the spans are.

export const TASK_END_EVENTS = {
  'task.finished': 'ok', 'task.failed': 'error', 'task.cancelled': 'cancelled', 'task.timeout': 'timeout',
};
const STRUCTURAL = new Set(['run.started', 'task.started', 'progress', 'run.finished', ...Object.keys(TASK_END_EVENTS)]);

/** Index of the last element of `points` (sorted by .t) with t <= `t`, or -1. */
export function lastAtOrBefore(points, t) {
  let low = 0;
  let high = points.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (points[middle].t <= t) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

export class RunModel {
  /** @param {{name: string, title: string}[]} counterSpecs the pattern's counters (catalog entry) */
  constructor(counterSpecs = []) {
    this.counters = counterSpecs.map((spec) => ({ ...spec, points: [] }));
    this.spans = new Map();
    this.markers = [];
    this.progress = [];
    this.lastT = 0;
    this.lastId = 0;
    this.eventCount = 0;
    this.startedAt = null;
    this.record = null;
  }

  /** Applies one event (its time is data.t_ms). Events are applied once, in id order. */
  apply(name, data, id = 0) {
    if (id && id <= this.lastId) return;
    if (id) this.lastId = id;
    this.eventCount += 1;
    // Threads stamp events a hair out of order on a real clock; the log's order is the truth.
    const t = typeof data.t_ms === 'number' ? Math.max(data.t_ms, this.lastT) : this.lastT;
    this.lastT = t;
    if (name === 'run.started') this.startedAt = t;
    else if (name === 'task.started') this.startTask(data, t);
    else if (name in TASK_END_EVENTS) this.endTask(name, data, t);
    else if (name === 'progress') this.progress.push({ t, completed: data.completed, total: data.total });
    else if (!STRUCTURAL.has(name)) this.markers.push({ name, t, task: data.task, data, id });
    for (const counter of this.counters) {
      const value = data[counter.name];
      if (typeof value === 'number') counter.points.push({ t, value, id });
    }
  }

  startTask(data, t) {
    if (!this.spans.has(data.task)) {
      this.spans.set(data.task, { task: data.task, label: data.label, start_ms: t, end_ms: null, outcome: null });
    }
  }

  endTask(name, data, t) {
    const span = this.spans.get(data.task) || {
      task: data.task, label: data.label, start_ms: t - (data.duration_ms || 0),
    };
    this.spans.set(data.task, { ...span, end_ms: t, outcome: TASK_END_EVENTS[name], error: data.error });
  }

  /**
   * The run has ended: its record's timeline is the truth about spans. Past the per-task event
   * cap the events that carried counter values were dropped too (`events_dropped`): after the
   * last value kept, a counter is unknown, not still at that value.
   */
  adoptRecord(run) {
    this.record = run;
    if (run.result?.events_dropped > 0) {
      this.countersKnownUntil = Math.max(0, ...this.counters.map((counter) => counter.points.at(-1)?.t ?? 0));
    }
    if (Array.isArray(run.timeline?.spans) && (run.timeline.spans.length || !this.spans.size)) {
      this.spans = new Map(run.timeline.spans.map((span) => [span.task, { ...span }]));
    }
  }

  /** The last instant the model knows of: the run's duration once it ended. */
  get endMs() {
    const duration = this.record?.duration_ms;
    return typeof duration === 'number' ? Math.max(duration, this.lastT) : this.lastT;
  }

  /** Tasks completed by `t`: the coalesced progress, or the ends seen, whichever is more. */
  completedAt(t, spans) {
    const index = lastAtOrBefore(this.progress, t);
    const reported = index >= 0 ? this.progress[index].completed : 0;
    const ended = spans.reduce((sum, span) => sum + (span.end_ms !== null && span.end_ms !== undefined ? 1 : 0), 0);
    return Math.max(reported, ended);
  }

  /** The total the run announced (its progress events), or the record's. */
  get total() {
    const last = this.progress[this.progress.length - 1];
    return this.record?.progress?.total ?? last?.total ?? 0;
  }

  /**
   * The run as it stood at `t`: spans begun by then (those ending later are running), markers,
   * counters (each with its points up to t and its value), completed tasks.
   */
  stateAt(t) {
    const spans = [];
    for (const span of this.spans.values()) {
      if (span.start_ms > t) continue;
      const ended = span.end_ms !== null && span.end_ms !== undefined && span.end_ms <= t;
      spans.push(ended ? span : { ...span, end_ms: null, outcome: null });
    }
    const markers = this.markers.slice(0, lastAtOrBefore(this.markers, t) + 1);
    const knownUntil = this.countersKnownUntil ?? Infinity;
    const counters = this.counters.map((counter) => {
      const index = lastAtOrBefore(counter.points, t);
      const known = t <= knownUntil;
      return {
        ...counter, upTo: index + 1, value: index >= 0 && known ? counter.points[index].value : null,
        knownUntil: Number.isFinite(knownUntil) ? knownUntil : null,
      };
    });
    return {
      t, spans, markers, counters, completed: this.completedAt(t, spans), total: this.total,
      progress: this.progress, ended: this.record !== null && t >= this.endMs,
    };
  }
}
