// Two runs side by side: on one time axis (one scrubber drives both), and their parameters,
// checks and figures in two columns. The second run is picked from history, or made by running
// the first again with one parameter changed (rerun.js).
//
// Route: #/compare/A/B. A run still going is followed live in its place.

import { api, TERMINAL_STATUSES } from './api.js';
import { h, replace } from './dom.js';
import { humanize, value } from './format.js';
import { ReplayControls } from './replay.js';
import { RunView } from './run-view.js';

/** Both timelines take this gutter, so their time axes line up. */
const SHARED_GUTTER = 110;

/** Rows of `keys` with the two runs' values; differing ones marked. */
function table(testid, title, keys, cell, runs) {
  return h('table', { class: 'compare-table', 'data-testid': testid },
    h('caption', {}, title),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), runs.map((run, index) =>
      h('th', { scope: 'col' }, `${index ? 'B' : 'A'} `, h('code', {}, run.id))))),
    h('tbody', {}, keys.map((key) => {
      const cells = runs.map((run) => cell(run, key));
      const differs = cells[0].text !== cells[1].text;
      return h('tr', { 'data-key': key, 'data-differs': String(differs), class: differs ? 'differs' : '' },
        h('th', { scope: 'row' }, humanize(key)),
        cells.map((content) => h('td', content.attrs || {}, content.text)));
    })));
}

const union = (lists) => [...new Set(lists.flat())];

function columns(runs) {
  const params = union(runs.map((run) => Object.keys(run.params || {})));
  const checks = union(runs.map((run) => (run.checks || []).map((check) => check.name)));
  const figures = union(runs.map((run) => Object.keys(run.result || {})));
  return h('div', { class: 'compare-columns', 'data-testid': 'compare-columns' },
    table('compare-params', 'Parameters', params, (run, key) => ({ text: value(run.params?.[key], key) }), runs),
    table('compare-checks', 'Checks', checks, (run, key) => {
      const check = (run.checks || []).find((item) => item.name === key);
      if (!check) return { text: TERMINAL_STATUSES.has(run.status) ? '–' : 'running…' };
      return { text: `${check.passed ? '✓' : '✗'} ${value(check.observed, check.name)}`,
        attrs: { 'data-passed': String(check.passed), class: check.passed ? 'pass' : 'fail' } };
    }, runs),
    table('compare-figures', 'Figures', figures, (run, key) => ({ text: value(run.result?.[key], key) }), runs));
}

/** The comparison page; returns what to call when leaving it. */
export function showCompare(main, [idA, idB], byName) {
  const slots = [h('div', { class: 'compare-run', 'data-side': 'A' }), h('div', { class: 'compare-run', 'data-side': 'B' })];
  const replaySlot = h('div', { class: 'replay-slot' });
  const tables = h('div', { class: 'card compare-card' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('div', { class: 'page compare', 'data-testid': 'compare' },
    h('header', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Compare two runs'),
      h('p', { class: 'lede' }, 'Both on one time axis: the scrubber moves them together. Their parameters, checks and figures side by side below.')),
    replaySlot, slots[0], slots[1], tables));
  const views = [];
  let replay = null;
  let left = false;
  const refresh = () => {
    if (left) return;
    const runs = views.map((view) => view.run);
    replace(tables, columns(runs));
    const end = Math.max(...views.map((view) => view.endMs), 1);
    for (const view of views) view.shareAxis({ max: end, gutter: SHARED_GUTTER });
    if (views.every((view) => !view.isLive())) {
      replay?.dispose();
      replay = new ReplayControls(end, (t) => views.forEach((view) => view.showAt(t)));
      replace(replaySlot, replay.element);
      replay.seek(end);
    }
    main.querySelector('[data-testid="compare"]').dataset.ready = String(views.every((view) => !view.isLive()));
  };
  Promise.all([idA, idB].map((id) => api.run(id))).then((runs) => {
    if (left) return;
    runs.forEach((run, index) => {
      const view = new RunView(slots[index], byName.get(run.pattern), () => view.ready.then(refresh), { embedded: true });
      views.push(view);
    });
    views.forEach((view, index) => view.open(runs[index]));
    Promise.all(views.map((view) => view.ready)).then(refresh);
    refresh();
  }).catch((error) => {
    replace(tables, h('p', { class: 'notice notice-error', 'data-testid': 'compare-error' }, `Could not load the runs: ${error.message}`));
  });
  return () => {
    left = true;
    replay?.dispose();
    views.forEach((view) => view.dispose());
  };
}
