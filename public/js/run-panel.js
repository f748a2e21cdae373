// The DOM of one run's panel: its header and actions, progress, replay slot, timeline,
// checks, figures and raw JSON. RunView fills it; this only builds it.

import { TERMINAL_STATUSES } from './api.js';
import { h, replace } from './dom.js';
import { humanize, ms, value } from './format.js';

/**
 * The panel's elements for `run`, by name (RunView takes them as its own fields).
 * @param {{embedded: boolean, onCancel: () => void, onCopyCurl: () => void, onRawOpen: () => void}} options
 */
export function buildRunPanel(run, { embedded, onCancel, onCopyCurl, onRawOpen }) {
  const el = {};
  el.status = h('span', { class: 'badge', 'data-testid': 'run-status' });
  el.clockBadge = h('span', { class: 'badge badge-virtual', 'data-testid': 'run-clock', hidden: true,
    title: 'Virtual time: the clock jumped to the next deadline whenever every task waited. '
      + 'Times and figures are in virtual time; the same parameters give the same run every time.' },
  'virtual time');
  el.connection = h('span', { class: 'connection', 'data-testid': 'connection', role: 'status',
    'aria-live': 'polite', title: 'Event stream connection' },
  h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { class: 'connection-text' }));
  el.cancelButton = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'cancel-button',
    onclick: onCancel }, 'Cancel run');
  const curlButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'copy-curl-run',
    title: 'Copy a curl command that launches the same run', onclick: onCopyCurl }, 'Copy as curl');
  el.traceLink = h('a', { class: 'btn', 'data-testid': 'download-trace', hidden: true,
    href: `/runs/${encodeURIComponent(run.id)}/trace`, download: `${run.pattern}-${run.id}.trace.json`,
    title: 'The run in the Chrome Trace Event format: open it in Perfetto (ui.perfetto.dev) or chrome://tracing' },
  'Download trace');
  el.curlOutput = h('pre', { class: 'curl-output', 'data-testid': 'curl-command', hidden: true });
  el.meta = h('dl', { class: 'run-meta' });
  el.duration = h('span', { 'data-testid': 'run-duration' });
  el.errorBox = h('p', { class: 'notice notice-error', 'data-testid': 'run-error', hidden: true });
  el.progressBar = h('div', { class: 'progress-fill' });
  el.progress = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0,
    'aria-label': 'Tasks completed', 'data-testid': 'progress' }, el.progressBar);
  el.progressText = h('span', { class: 'progress-text', 'data-testid': 'progress-text' });
  el.replaySlot = h('div', { class: 'replay-slot' });
  el.counterList = h('dl', { class: 'counter-values', 'data-testid': 'counters', hidden: true });
  el.timelineRoot = h('div', { class: 'timeline' });
  el.checks = h('ul', { class: 'checks', 'data-testid': 'checks' });
  el.checksSummary = h('span', { class: 'section-note', 'data-testid': 'checks-summary' });
  el.result = h('div', { class: 'result', 'data-testid': 'result' });
  el.raw = h('pre', { class: 'raw-json', 'data-testid': 'raw-json' });
  el.rawDetails = h('details', { class: 'raw', 'data-testid': 'raw-json-toggle',
    ontoggle: () => { if (el.rawDetails.open) onRawOpen(); } },
  h('summary', {}, 'Raw JSON'), el.raw);
  el.compareSlot = h('div', { class: 'compare-slot' });

  el.panel = h('section', { class: `card run-panel${embedded ? ' run-panel-embedded' : ''}`,
    'data-testid': 'run-panel', 'data-run-id': run.id, 'aria-label': `Run ${run.id}` },
  h('header', { class: 'run-head' },
    h('div', { class: 'run-title-row' },
      h('h2', { class: 'run-title' }, 'Run ', h('code', { 'data-testid': 'run-id' }, run.id)),
      el.status, el.clockBadge, el.connection),
    h('div', { class: 'run-actions' }, el.cancelButton, curlButton, el.traceLink)),
  el.curlOutput, el.meta, el.errorBox,
  h('div', { class: 'progress-row' }, el.progress, el.progressText),
  el.replaySlot,
  h('section', { class: 'run-section', 'aria-label': 'Timeline' },
    h('h3', {}, 'Timeline'), el.counterList, el.timelineRoot),
  // In a comparison the checks and figures are the comparison's two columns.
  embedded ? null : h('div', { class: 'run-columns' },
    h('section', { class: 'run-section', 'aria-label': 'Checks' },
      h('h3', {}, 'Checks ', el.checksSummary), el.checks),
    h('section', { class: 'run-section', 'aria-label': 'Result' },
      h('h3', {}, 'Result'), el.result)),
  embedded ? null : el.compareSlot,
  embedded ? null : el.rawDetails);
  return el;
}

/** The checks of `run` into the panel `el`; before its end (`atEnd` false) they are pending. */
export function fillChecks(el, run, atEnd) {
  const checks = run.checks || [];
  if (!checks.length || !atEnd) {
    const text = !TERMINAL_STATUSES.has(run.status)
      ? 'Checks are computed from what the run observed, when it ends.'
      : checks.length ? `The run checks its invariants when it ends, at ${ms(run.duration_ms)}.`
        : 'This run reported no checks.';
    replace(el.checks, h('li', { class: 'empty' }, text));
    el.checksSummary.textContent = '';
    el.checks.dataset.state = 'pending';
    return;
  }
  const passed = checks.filter((check) => check.passed).length;
  el.checksSummary.textContent = `${passed} of ${checks.length} passed`;
  el.checks.dataset.state = passed === checks.length ? 'passed' : 'failed';
  replace(el.checks, checks.map((check) => h('li', {
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
