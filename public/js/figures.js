// A run's result figures. Plain figures are tiles. A figure that is an object of figures
// (bulkhead's `shared`, deadline-propagation's `on`) is a wide tile of its own figures; an
// object of such objects (retry's `strategies`) is a table, one row per member, so the arms
// of one experiment read side by side.

import { h } from './dom.js';
import { humanize, value } from './format.js';

const isObject = (raw) => raw !== null && typeof raw === 'object' && !Array.isArray(raw);

/** The figures of `result` as a definition list. */
export function figures(result) {
  return h('dl', { class: 'figures' }, Object.entries(result).map(([key, raw]) => figure(key, raw)));
}

function figure(key, raw) {
  const members = isObject(raw) ? Object.values(raw) : [];
  if (members.length && members.every(isObject)) return tableFigure(key, raw);
  if (isObject(raw)) return groupFigure(key, raw);
  return h('div', { class: 'figure', 'data-key': key }, h('dt', {}, humanize(key)), h('dd', {}, value(raw, key)));
}

function groupFigure(key, group) {
  return h('div', { class: 'figure figure-wide', 'data-key': key },
    h('dt', {}, humanize(key)),
    h('dd', {}, h('dl', { class: 'figure-group' }, Object.entries(group).map(([name, item]) =>
      h('div', { 'data-key': name }, h('dt', {}, humanize(name)), h('dd', {}, value(item, name)))))));
}

function tableFigure(key, rows) {
  const columns = [...new Set(Object.values(rows).flatMap((row) => Object.keys(row)))];
  return h('div', { class: 'figure figure-wide', 'data-key': key },
    h('dt', {}, humanize(key)),
    h('dd', {}, h('div', { class: 'figure-table-scroll' }, h('table', { class: 'figure-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, humanize(key))),
        columns.map((column) => h('th', { scope: 'col' }, humanize(column))))),
      h('tbody', {}, Object.entries(rows).map(([name, row]) => h('tr', { 'data-key': name },
        h('th', { scope: 'row' }, humanize(name)),
        columns.map((column) => h('td', {}, value(row[column], column))))))))));
}
