// The timeline: an SVG Gantt chart of a run, one row per task.
//
// Readable at 10 tasks (a labelled row each), still useful at 10,000: past MAX_PLAIN_ROWS
// rows, consecutive tasks share a row and each shared row shows, per outcome, the extent of
// its tasks as a band whose height is that outcome's share. Pattern events are markers: on
// their task's row when they name one, otherwise in a lane above the rows. Markers that
// would land on the same pixel are drawn once, so the cost is bounded by the chart's size,
// not by the number of events.

import { COUNTER_LANE, counterLanes, DENSITY_LANE, densityStrip } from './counters.js';
import { esc, h, replace } from './dom.js';
import { drawMarkers } from './markers.js';
import { count, ms, OUTCOMES } from './format.js';

const PLOT_HEIGHT = 560;    // most pixels the rows take
const FULL_ROW = 22;        // row height with a label per row
const LABEL_ROW = 13;       // below this, rows get index ticks instead of labels
const MIN_PLAIN_ROW = 2;    // below this, tasks share rows
const GROUP_ROW = 4;        // row height when tasks share rows
const MAX_PLAIN_ROWS = Math.floor(PLOT_HEIGHT / MIN_PLAIN_ROW);
const AXIS_HEIGHT = 26;
const LANE_HEIGHT = 18;
const MARKER_COLOURS = 6;   // .tl-mk-0 … .tl-mk-5 in app.css
const COUNTER_COLOURS = 4;  // .tl-ct-0 … .tl-ct-3 in app.css

let instances = 0;

/** 1, 2, 5 × 10^k: the tick step nearest above `raw`. */
export function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/** The rows layout for `taskCount` tasks: how many tasks per row, how many rows, how tall. */
export function layoutRows(taskCount) {
  const tasks = Math.max(1, taskCount);
  if (tasks <= MAX_PLAIN_ROWS) {
    const rowHeight = Math.min(FULL_ROW, Math.max(MIN_PLAIN_ROW, PLOT_HEIGHT / tasks));
    return { group: 1, rows: tasks, rowHeight };
  }
  const group = Math.ceil(tasks / Math.floor(PLOT_HEIGHT / GROUP_ROW));
  const rows = Math.ceil(tasks / group);
  return { group, rows, rowHeight: PLOT_HEIGHT / rows };
}

function taskLabel(task, label) {
  return label || `task-${task}`;
}

/**
 * Renders into `root` (an element it owns): a summary line, a legend, and the chart.
 * Call update(model) whenever the data changes; it re-renders on resize by itself.
 *
 * model: {spans: iterable of {task, label, start_ms, end_ms|null, outcome|null},
 *         taskCount, rowCount?, markers: [{name, t, task?}], now, live, truncated, tasks, outcomes,
 *         showNow? (a replay's instant: running bars reach it and a line marks it),
 *         axisMax?, gutter? (a time axis shared with another chart), counters? ([{name, title, points,
 *         upTo, value}], step charts below the rows), density? ({progress, tasks}: the strip of
 *         tasks past the span cap)}
 */
export class Timeline {
  constructor(root) {
    this.uid = ++instances;
    this.root = root;
    this.model = null;
    this.markerColour = new Map();
    this.markerKind = new Map();
    this.summary = h('p', { class: 'tl-summary', 'data-testid': 'timeline-summary' });
    this.notice = h('p', { class: 'notice tl-truncated', 'data-testid': 'timeline-truncated', hidden: true });
    this.legend = h('ul', { class: 'tl-legend', 'data-testid': 'timeline-legend', 'aria-label': 'Legend' });
    this.groupNote = h('p', { class: 'tl-note', 'data-testid': 'timeline-group-note', hidden: true });
    this.chart = h('div', { class: 'tl-chart', 'data-testid': 'timeline' });
    // Hover shows a bar's <title>; a click or tap spells it out here too (touch has no hover).
    this.detail = h('p', { class: 'tl-detail', 'data-testid': 'timeline-detail', 'aria-live': 'polite' });
    this.chart.addEventListener('click', (event) => {
      const title = event.target.closest('[data-task], [data-row], [data-event]')?.querySelector('title');
      this.detail.textContent = title ? title.textContent : '';
    });
    replace(root, this.summary, this.notice, this.chart, this.detail, this.legend, this.groupNote);
    this.width = 0;
    this.resizeObserver = new ResizeObserver((entries) => {
      const width = Math.round(entries.at(-1).contentRect.width);
      if (!width || Math.abs(width - this.width) <= 1) return;
      this.width = width;
      if (this.model) this.render();
    });
    this.resizeObserver.observe(this.chart);
  }

  dispose() {
    this.resizeObserver.disconnect();
  }

  update(model) {
    // Keep an array: the chart re-renders on resize from the same model.
    this.model = { ...model, spans: Array.from(model.spans || []) };
    this.render();
  }

  /** A small number per event name (for the markers' pixel keys). */
  kindOf(name) {
    if (!this.markerKind.has(name)) this.markerKind.set(name, this.markerKind.size % 64);
    return this.markerKind.get(name);
  }

  colourOf(name) {
    if (!this.markerColour.has(name)) this.markerColour.set(name, this.markerColour.size % MARKER_COLOURS);
    return this.markerColour.get(name);
  }

  render() {
    const model = this.model;
    const spans = model.spans;
    // The ResizeObserver keeps the width: reading clientWidth here would force a layout on
    // every frame of a replay.
    if (!this.width) this.width = this.chart.clientWidth || 640;
    const tally = this.tally(spans, model);
    const maxTask = spans.reduce((max, span) => Math.max(max, span.task), -1);
    this.layout = layoutRows(model.rowCount ?? Math.max(maxTask + 1, model.truncated ? 0 : (model.taskCount || 0), 1));
    this.renderSummary(spans, model, tally);
    this.renderLegend(model, tally);
    if (!spans.length && !model.markers?.length && !model.counters?.length && !model.showNow) {
      this.chart.innerHTML = `<p class="tl-empty" data-testid="timeline-empty">${
        model.live ? 'Waiting for the first task to start…' : 'This run recorded no tasks.'}</p>`;
      this.chart.dataset.bars = '0';
      return;
    }
    this.chart.innerHTML = this.svg(spans, model);
    this.chart.dataset.bars = String(this.chart.querySelectorAll('.tl-bar').length);
    this.chart.dataset.rows = String(this.layout.rows);
    this.chart.dataset.group = String(this.layout.group);
  }

  tally(spans, model) {
    const counts = { ok: 0, error: 0, cancelled: 0, timeout: 0, running: 0 };
    for (const span of spans) {
      if (span.end_ms === null || span.end_ms === undefined) counts.running += 1;
      else if (span.outcome in counts) counts[span.outcome] += 1;
    }
    // The run's own aggregates count every task, also those past the span cap.
    if (model.outcomes && !model.live) Object.assign(counts, model.outcomes, { running: 0 });
    const markers = new Map();
    for (const marker of model.markers || []) markers.set(marker.name, (markers.get(marker.name) || 0) + 1);
    return { counts, markers };
  }

  renderSummary(spans, model, tally) {
    const total = model.tasks ?? model.taskCount ?? spans.length;
    const parts = [`${count(total)} ${total === 1 ? 'task' : 'tasks'}`];
    const end = model.live ? model.now : model.duration;
    if (end) parts.push(model.live ? `${ms(end)} so far` : ms(end));
    if (tally.counts.running) parts.push(`${count(tally.counts.running)} running`);
    if (this.layout.group > 1) parts.push(`${count(this.layout.group)} tasks per row`);
    this.summary.textContent = parts.join(' · ');
    if (model.truncated) {
      this.notice.hidden = false;
      const shown = spans.length;
      this.notice.textContent = `Timeline truncated: the server kept ${count(shown)} of ${count(total)} task spans. `
        + 'The outcome counts in the legend include every task.';
    } else {
      this.notice.hidden = true;
    }
    this.groupNote.hidden = this.layout.group === 1;
    this.groupNote.textContent = `Each row is ${count(this.layout.group)} consecutive tasks: the pale band runs from `
      + 'the first start to the last end among them, the solid part is when all of them were running.';
  }

  renderLegend(model, tally) {
    const items = OUTCOMES.map((outcome) => h('li', {
      class: `tl-legend-item${tally.counts[outcome] ? '' : ' is-zero'}`, 'data-outcome': outcome,
      'data-testid': `legend-${outcome}`,
    },
    h('span', { class: `tl-swatch tl-sw-${outcome}`, 'aria-hidden': 'true' }),
    h('span', {}, outcome), h('span', { class: 'tl-count' }, count(tally.counts[outcome]))));
    if (model.live || tally.counts.running) {
      items.push(h('li', { class: 'tl-legend-item', 'data-outcome': 'running' },
        h('span', { class: 'tl-swatch tl-sw-running', 'aria-hidden': 'true' }),
        h('span', {}, 'running'), h('span', { class: 'tl-count' }, count(tally.counts.running))));
    }
    for (const [name, n] of tally.markers) {
      items.push(h('li', { class: 'tl-legend-item tl-legend-marker', 'data-event': name },
        h('span', { class: `tl-dot tl-mk-${this.colourOf(name)}`, 'aria-hidden': 'true' }),
        h('code', {}, name), h('span', { class: 'tl-count' }, count(n))));
    }
    replace(this.legend, items);
  }

  svg(spans, model) {
    const { group, rows, rowHeight } = this.layout;
    const width = Math.max(280, this.width);
    const perRowLabels = group === 1 && rowHeight >= LABEL_ROW;
    const longest = perRowLabels
      ? spans.reduce((max, span) => Math.max(max, taskLabel(span.task, span.label).length), taskLabel(rows - 1).length)
      : 6;
    const gutter = model.gutter ?? Math.round(Math.min(width < 520 ? 92 : 150, Math.max(52, longest * 6.6 + 14)));
    const plotWidth = width - gutter - 14;
    const lane = (model.markers || []).some((m) => m.task === undefined || m.task === null) ? LANE_HEIGHT : 0;
    const top = AXIS_HEIGHT + lane;
    const below = top + rows * rowHeight + 8;
    const counters = model.counters || [];
    const height = Math.ceil(below + (model.density ? DENSITY_LANE : 0) + counters.length * COUNTER_LANE);

    let tMax = Math.max(model.live ? model.now || 0 : 0, model.duration || 0, model.axisMax || 0, 1);
    for (const span of spans) tMax = Math.max(tMax, span.end_ms ?? 0, span.start_ms ?? 0);
    // Markers come in time order (RunModel): the last is the latest.
    tMax = Math.max(tMax, model.markers?.at(-1)?.t || 0);
    const x = (t) => gutter + (Math.max(0, t) / tMax) * plotWidth;
    const rowY = (task) => top + Math.floor(task / group) * rowHeight;

    const out = [];
    out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="tl-svg" width="${width}" height="${height}" `
      + `viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="tl-title-${this.uid}" `
      + `data-testid="timeline-svg">`);
    out.push(`<title id="tl-title-${this.uid}">${esc(this.summary.textContent)}</title>`);
    out.push(`<defs>${patterns(this.uid)}</defs>`);
    this.axis(out, { gutter, plotWidth, tMax, top, height, x, lane });
    this.rowsBackground(out, { rows, rowHeight, top, gutter, width, group, perRowLabels, spans });

    const now = model.live || model.showNow ? model.now : null;
    if (group === 1) this.plainBars(out, spans, { x, rowY, rowHeight, now });
    else this.groupBars(out, spans, { x, rowHeight, top, group, now });
    drawMarkers(out, model.markers || [], { x, rowY, rowHeight, top, lane, rows, group }, this);
    const until = model.now ?? tMax;
    let laneTop = below;
    if (model.density) laneTop += densityStrip(out, model.density, spans, { x, top: laneTop, gutter, tMax, until, plotWidth });
    counterLanes(out, counters, { x, top: laneTop, gutter, width, until, colourOf: (index) => index % COUNTER_COLOURS });
    if (now !== null && now !== undefined) {
      out.push(`<line class="tl-now" x1="${x(now)}" x2="${x(now)}" y1="${AXIS_HEIGHT - 4}" y2="${height - 4}"/>`);
    }
    out.push('</svg>');
    return out.join('');
  }

  /** Cancelled bars are hatched and running ones striped, so neither relies on colour alone. */
  patternFill(outcome) {
    if (outcome === 'cancelled') return ` style="fill: url(#tl-hatch-${this.uid})"`;
    if (outcome === 'running') return ` style="fill: url(#tl-stripes-${this.uid})"`;
    return '';
  }

  axis(out, { gutter, plotWidth, tMax, top, height, x, lane }) {
    const step = niceStep(tMax / Math.max(2, plotWidth / 90));
    out.push(`<text class="tl-axis-title" x="4" y="16">ms</text>`);
    for (let t = 0; t <= tMax + 1e-9; t += step) {
      const px = x(t).toFixed(1);
      out.push(`<line class="tl-grid" x1="${px}" x2="${px}" y1="${AXIS_HEIGHT - 6}" y2="${height - 8}"/>`);
      const anchor = t === 0 ? 'start' : (x(t) > gutter + plotWidth - 30 ? 'end' : 'middle');
      out.push(`<text class="tl-tick" x="${px}" y="16" text-anchor="${anchor}">${esc(count(t))}</text>`);
    }
    if (lane) {
      out.push(`<text class="tl-lane-label" x="4" y="${AXIS_HEIGHT + 12}">events</text>`);
      out.push(`<line class="tl-lane-line" x1="${gutter}" x2="${gutter + plotWidth}" y1="${top - 1}" y2="${top - 1}"/>`);
    }
  }

  rowsBackground(out, { rows, rowHeight, top, gutter, width, group, perRowLabels, spans }) {
    if (rowHeight >= 8) {
      for (let row = 1; row < rows; row += 2) {
        out.push(`<rect class="tl-zebra" x="${gutter}" y="${top + row * rowHeight}" width="${width - gutter}" height="${rowHeight}"/>`);
      }
    }
    if (perRowLabels) {
      const labels = new Map(spans.map((span) => [span.task, span.label]));
      const maxChars = Math.floor((gutter - 10) / 6.6);
      for (let row = 0; row < rows; row += 1) {
        let text = taskLabel(row, labels.get(row));
        if (text.length > maxChars) text = `${text.slice(0, maxChars - 1)}…`;
        out.push(`<text class="tl-label" x="${gutter - 6}" y="${top + row * rowHeight + rowHeight / 2}" `
          + `text-anchor="end" dominant-baseline="central">${esc(text)}</text>`);
      }
      return;
    }
    // Index ticks, far enough apart to read: "0", "50", "100" … (task numbers).
    const minGap = 16;
    const taskStep = niceStep(Math.ceil(minGap / rowHeight) * group);
    out.push(`<text class="tl-axis-title" x="4" y="${top + 10}">task</text>`);
    for (let task = 0; task < rows * group; task += taskStep) {
      const y = top + (task / group) * rowHeight;
      if (task > 0 && y - top < minGap) continue;
      out.push(`<text class="tl-label" x="${gutter - 6}" y="${y + Math.min(rowHeight, 10) / 2}" text-anchor="end" `
        + `dominant-baseline="central">${count(task)}</text>`);
      out.push(`<line class="tl-row-tick" x1="${gutter - 3}" x2="${gutter}" y1="${y}" y2="${y}"/>`);
    }
  }

  plainBars(out, spans, { x, rowY, rowHeight, now }) {
    const barHeight = rowHeight >= 6 ? Math.max(2, rowHeight * 0.68) : Math.max(1, rowHeight - 0.5);
    const inset = (rowHeight - barHeight) / 2;
    for (const span of spans) {
      const running = span.end_ms === null || span.end_ms === undefined;
      const end = running ? Math.max(now ?? span.start_ms, span.start_ms) : span.end_ms;
      const x1 = x(span.start_ms);
      const w = Math.max(1.5, x(end) - x1);
      const y = rowY(span.task) + inset;
      const outcome = running ? 'running' : (OUTCOMES.includes(span.outcome) ? span.outcome : 'ok');
      const fill = this.patternFill(outcome);
      const tip = `${taskLabel(span.task, span.label)} · ${running ? 'running' : outcome} · `
        + `${ms(span.start_ms)} → ${running ? '…' : ms(end)} (${ms(end - span.start_ms)})`
        + (span.error ? ` · ${span.error}` : '');
      out.push(`<rect class="tl-bar tl-${outcome}" data-task="${span.task}" x="${x1.toFixed(1)}" y="${y.toFixed(1)}" `
        + `width="${w.toFixed(1)}" height="${barHeight.toFixed(1)}" rx="${barHeight >= 8 ? 2 : 0}"${fill}>`
        + `<title>${esc(tip)}</title></rect>`);
      if (running && barHeight >= 4) {
        out.push(`<rect class="tl-head" x="${(x1 + w - 2).toFixed(1)}" y="${y.toFixed(1)}" width="2" height="${barHeight.toFixed(1)}"/>`);
      }
    }
  }

  groupBars(out, spans, { x, rowHeight, top, group, now }) {
    const rows = new Map();
    for (const span of spans) {
      const running = span.end_ms === null || span.end_ms === undefined;
      const key = running ? 'running' : (OUTCOMES.includes(span.outcome) ? span.outcome : 'ok');
      const end = running ? Math.max(now ?? span.start_ms, span.start_ms) : span.end_ms;
      const row = Math.floor(span.task / group);
      if (!rows.has(row)) rows.set(row, {});
      const bucket = rows.get(row);
      const band = bucket[key] || (bucket[key] = {
        n: 0, start: Infinity, end: -Infinity, lastStart: -Infinity, firstEnd: Infinity,
      });
      band.n += 1;
      band.start = Math.min(band.start, span.start_ms);
      band.end = Math.max(band.end, end);
      band.lastStart = Math.max(band.lastStart, span.start_ms);
      band.firstEnd = Math.min(band.firstEnd, end);
    }
    const order = ['ok', 'timeout', 'error', 'cancelled', 'running'];
    for (const [row, bucket] of rows) {
      const total = order.reduce((sum, key) => sum + (bucket[key]?.n || 0), 0);
      let y = top + row * rowHeight;
      const first = row * group;
      for (const key of order) {
        const band = bucket[key];
        if (!band) continue;
        const bandHeight = Math.max(1, rowHeight * band.n / total);
        // The envelope (first start to last end) is pale; the core, where every task of the
        // row was running at once (last start to first end), is solid.
        const x1 = x(band.start);
        const w = Math.max(1.5, x(band.end) - x1);
        const fill = this.patternFill(key);
        const tip = `tasks ${count(first)}–${count(first + group - 1)}: ${count(band.n)} ${key}, `
          + `first start ${ms(band.start)}, last end ${ms(band.end)}`;
        const coreStart = x(band.lastStart);
        const coreWidth = x(band.firstEnd) - coreStart;
        out.push(`<g class="tl-group" data-row="${row}"><title>${esc(tip)}</title>`
          + `<rect class="tl-envelope tl-${key}" x="${x1.toFixed(1)}" y="${y.toFixed(2)}" `
          + `width="${w.toFixed(1)}" height="${bandHeight.toFixed(2)}"${fill}/>`
          + (coreWidth > 0.5 ? `<rect class="tl-${key}" x="${coreStart.toFixed(1)}" y="${y.toFixed(2)}" `
            + `width="${coreWidth.toFixed(1)}" height="${bandHeight.toFixed(2)}"${fill}/>` : '')
          + '</g>');
        y += bandHeight;
      }
    }
  }
}

function patterns(uid) {
  return `<pattern id="tl-hatch-${uid}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">`
    + '<rect class="tl-cancelled" width="6" height="6"/><rect class="tl-hatch-line" width="2" height="6"/></pattern>'
    + `<pattern id="tl-stripes-${uid}" patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(-45)">`
    + '<rect class="tl-running" width="8" height="8"/><rect class="tl-stripe-line" width="3" height="8"/></pattern>';
}
