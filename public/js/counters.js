// The pattern's counters as step charts on the timeline's time axis (SVG markup, appended to
// the timeline's own), and the strip that stands for tasks past the span cap.
//
// A counter's value holds from one event that carries it to the next: a step function. Its
// scale is the run's whole range (not the range shown so far), so a replay does not rescale as
// it plays. Points that fall on one pixel column are drawn as that column's extent, so the
// cost is bounded by the chart's width, not by the number of events.

import { esc } from './dom.js';
import { count } from './format.js';

export const COUNTER_LANE = 48;   // height of one counter's chart, its title row included
export const DENSITY_LANE = 30;   // height of the strip of tasks past the span cap
const TITLE_ROW = 15;
const DENSITY_BINS = 160;

/** `H… V…` commands of the step function of `points[0..upTo)`, from (0, 0) to `until`. */
export function stepPath(points, upTo, { x, y, until }) {
  const parts = [`M${x(0).toFixed(1)} ${y(0).toFixed(1)}`];
  let column = null;
  const flush = () => {
    if (!column) return;
    parts.push(`H${column.px}`);
    if (column.min !== column.max) parts.push(`V${y(column.max).toFixed(1)}V${y(column.min).toFixed(1)}`);
    parts.push(`V${y(column.last).toFixed(1)}`);
  };
  for (let index = 0; index < upTo; index += 1) {
    const point = points[index];
    const px = (Math.round(x(point.t) * 2) / 2).toFixed(1);
    if (column && column.px === px) {
      column.min = Math.min(column.min, point.value);
      column.max = Math.max(column.max, point.value);
      column.last = point.value;
    } else {
      flush();
      column = { px, min: point.value, max: point.value, last: point.value };
    }
  }
  flush();
  parts.push(`H${x(until).toFixed(1)}`);
  return parts.join('');
}

/** Appends one chart per counter below `top`; returns the height they take. */
export function counterLanes(out, counters, { x, top, gutter, width, until, colourOf }) {
  counters.forEach((counter, index) => {
    const laneTop = top + index * COUNTER_LANE;
    const chartTop = laneTop + TITLE_ROW;
    const chartHeight = COUNTER_LANE - TITLE_ROW - 6;
    const max = counter.points.reduce((most, point) => Math.max(most, point.value), 1);
    const y = (value) => chartTop + chartHeight - (Math.max(0, value) / max) * chartHeight;
    // Past the event cap the values were not recorded: the line stops where they stop.
    const end = counter.knownUntil === null ? until : Math.min(until, counter.knownUntil);
    const line = stepPath(counter.points, counter.upTo, { x, y, until: end });
    const area = `${line}V${y(0).toFixed(1)}Z`;
    const unknown = counter.knownUntil !== null && until > counter.knownUntil;
    const shown = counter.value === null ? (unknown ? 'not recorded (events past the cap were dropped)' : '–')
      : count(counter.value);
    const colour = colourOf(index);
    out.push(`<g class="tl-counter tl-ct-${colour}" data-counter="${esc(counter.name)}" `
      + `data-value="${counter.value ?? ''}" data-points="${counter.upTo}">`
      + `<title>${esc(`${counter.title}: ${shown}`)}</title>`
      + `<text class="tl-counter-title" x="${gutter}" y="${laneTop + 11}">${esc(counter.title)}: `
      + `<tspan class="tl-counter-value">${esc(shown)}</tspan></text>`
      + `<text class="tl-counter-scale" x="${gutter - 6}" y="${chartTop + 8}" text-anchor="end">${count(max)}</text>`
      + `<text class="tl-counter-scale" x="${gutter - 6}" y="${chartTop + chartHeight}" text-anchor="end">0</text>`
      + `<line class="tl-counter-base" x1="${gutter}" x2="${width - 14}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}"/>`
      + `<path class="tl-counter-area" d="${area}"/><path class="tl-counter-line" d="${line}"/>`
      + (unknown ? `<rect class="tl-counter-unknown" x="${x(end).toFixed(1)}" y="${chartTop}" `
        + `width="${Math.max(0, x(until) - x(end)).toFixed(1)}" height="${chartHeight}"/>` : '')
      + '</g>');
  });
  return counters.length * COUNTER_LANE;
}

/**
 * Completions over time of the tasks that have no span (past the span cap), in bins: the
 * run's progress (which counts every task) less the spans that ended in each bin.
 */
export function densityBins(progress, spans, { tMax, until, bins = DENSITY_BINS }) {
  const counts = new Array(bins).fill(0);
  const binOf = (t) => Math.min(bins - 1, Math.max(0, Math.floor((t / tMax) * bins)));
  let previous = 0;
  for (const point of progress) {
    if (point.t > until) break;
    counts[binOf(point.t)] += Math.max(0, point.completed - previous);
    previous = Math.max(previous, point.completed);
  }
  for (const span of spans) {
    if (span.end_ms !== null && span.end_ms !== undefined && span.end_ms <= until) counts[binOf(span.end_ms)] -= 1;
  }
  return counts.map((value) => Math.max(0, value));
}

/** Appends the density strip of the tasks without spans; returns its height. */
export function densityStrip(out, density, spans, { x, top, gutter, tMax, until, plotWidth }) {
  const bins = densityBins(density.progress, spans, { tMax, until });
  const peak = Math.max(1, ...bins);
  const binWidth = plotWidth / bins.length;
  const stripTop = top + TITLE_ROW;
  const height = DENSITY_LANE - TITLE_ROW - 3;
  const total = bins.reduce((sum, value) => sum + value, 0);
  out.push(`<g class="tl-density" data-testid="timeline-density" data-tasks="${density.tasks}" data-completions="${total}">`
    + `<title>${esc(`${count(density.tasks)} tasks past the span cap: when they completed (darker: more)`)}</title>`
    + `<text class="tl-counter-title" x="${gutter}" y="${top + 11}">${esc(`${count(density.tasks)} tasks without a span: completions`)}</text>`
    + `<rect class="tl-density-bg" x="${gutter}" y="${stripTop}" width="${plotWidth.toFixed(1)}" height="${height}"/>`);
  bins.forEach((value, index) => {
    if (!value) return;
    const opacity = (0.15 + 0.85 * (value / peak)).toFixed(2);
    out.push(`<rect class="tl-density-bin" x="${(x(0) + index * binWidth).toFixed(1)}" y="${stripTop}" `
      + `width="${Math.max(1, binWidth).toFixed(1)}" height="${height}" fill-opacity="${opacity}"/>`);
  });
  out.push('</g>');
  return DENSITY_LANE;
}
