// Pattern events on the timeline: on their task's row when they name one, otherwise in a lane
// above the rows. Markers that would land on the same pixel are drawn once, so the cost is
// bounded by the chart's size, not by the number of events.

import { esc } from './dom.js';
import { ms } from './format.js';

const MAX_GUIDES = 12;      // run-level markers get a guide line across the rows up to this many

/**
 * Appends the SVG of `markers` ([{name, t, task?, data}], in time order) to `out`. `names`
 * gives each event name its colour (colourOf) and a small number (kindOf).
 */
export function drawMarkers(out, markers, { x, rowY, rowHeight, top, lane, rows, group }, names) {
  const seen = new Set();
  const guides = [];
  const radius = Math.min(4, rowHeight * 0.3);
  for (const marker of markers) {
    const onRow = marker.task !== undefined && marker.task !== null;
    const row = onRow ? Math.floor(marker.task / group) : -1;
    if (row >= rows) continue;
    const px = x(marker.t);
    const colour = names.colourOf(marker.name);
    // One per row, pixel and kind: a number, not a string, for tens of thousands of events.
    const key = ((row + 1) * 65536 + Math.round(px)) * 64 + names.kindOf(marker.name);
    if (seen.has(key)) continue;
    seen.add(key);
    const tip = esc(`${marker.name} at ${ms(marker.t)}${onRow ? ` · task ${marker.task}` : ''}${detail(marker.data)}`);
    if (!onRow) {
      const cy = top - lane / 2;
      out.push(`<path class="tl-marker tl-mk-${colour}" data-event="${esc(marker.name)}" `
        + `d="M${px.toFixed(1)} ${cy - 5}l5 5l-5 5l-5 -5z"><title>${tip}</title></path>`);
      guides.push({ px, colour });
    } else if (rowHeight >= 8) {
      const cy = rowY(marker.task) + rowHeight / 2;
      out.push(`<circle class="tl-marker tl-mk-${colour}" data-event="${esc(marker.name)}" cx="${px.toFixed(1)}" `
        + `cy="${cy.toFixed(1)}" r="${radius.toFixed(1)}"><title>${tip}</title></circle>`);
    } else {
      out.push(`<rect class="tl-marker-tick tl-mk-${colour}" data-event="${esc(marker.name)}" x="${(px - 0.75).toFixed(1)}" `
        + `y="${rowY(marker.task).toFixed(1)}" width="1.5" height="${Math.max(1, rowHeight).toFixed(1)}"><title>${tip}</title></rect>`);
    }
  }
  if (guides.length <= MAX_GUIDES) {
    for (const guide of guides) {
      out.push(`<line class="tl-guide tl-mk-${guide.colour}" x1="${guide.px.toFixed(1)}" x2="${guide.px.toFixed(1)}" `
        + `y1="${top}" y2="${top + rows * rowHeight}"/>`);
    }
  }
}

function detail(data) {
  if (!data) return '';
  const parts = Object.entries(data)
    .filter(([key]) => key !== 't_ms' && key !== 'task' && key !== 'label')
    .map(([key, value]) => `${key} ${typeof value === 'object' ? JSON.stringify(value) : value}`);
  return parts.length ? ` · ${parts.join(', ')}` : '';
}
