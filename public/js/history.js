// Run history: GET /runs, newest first, filtered by pattern and status, paged by cursor.

import { ALL_STATUSES, api } from './api.js';
import { h, replace } from './dom.js';
import { absoluteTime, count, ms, relativeTime } from './format.js';

const PAGE = 20;

/**
 * Renders the history view into `main`. `filters` ({pattern, status}) come from the URL;
 * `onFilter(filters)` is called when the user changes them, so the URL can follow.
 */
export function showHistory(main, patterns, filters, onFilter, picked = []) {
  const list = h('ol', { class: 'history-list', 'data-testid': 'history-list', 'aria-label': 'Runs, newest first' });
  // Two runs picked (with the row's checkbox) open their comparison.
  const chosen = new Set(picked.slice(0, 2));
  const compareButton = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'compare-selected',
    onclick: () => {
      const [a, b] = [...chosen];
      window.location.hash = `#/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
    } }, 'Compare');
  const compareNote = h('span', { class: 'muted', 'data-testid': 'compare-note' });
  const compareBar = h('div', { class: 'compare-bar' }, compareNote, compareButton);
  const showChosen = () => {
    compareButton.disabled = chosen.size !== 2;
    compareNote.textContent = chosen.size === 2 ? 'Two runs picked.'
      : chosen.size === 1 ? `Picked ${[...chosen][0]}: pick one more to compare.` : 'Pick two runs to compare them.';
    for (const box of list.querySelectorAll('input[data-testid="compare-pick"]')) {
      box.checked = chosen.has(box.value);
      box.disabled = !box.checked && chosen.size >= 2;
    }
  };
  list.addEventListener('change', (event) => {
    const box = event.target.closest('input[data-testid="compare-pick"]');
    if (!box) return;
    if (box.checked) chosen.add(box.value);
    else chosen.delete(box.value);
    showChosen();
  });
  const more = h('button', { type: 'button', class: 'btn', 'data-testid': 'history-more', hidden: true }, 'Load more');
  const status = h('p', { class: 'muted history-status', role: 'status', 'data-testid': 'history-status' });
  const patternSelect = h('select', { id: 'history-pattern', 'data-testid': 'history-pattern' },
    h('option', { value: '' }, 'All patterns'),
    patterns.map((p) => h('option', { value: p.name, selected: p.name === filters.pattern }, p.name)));
  const statusSelect = h('select', { id: 'history-status-filter', 'data-testid': 'history-status-filter' },
    h('option', { value: '' }, 'Any status'),
    ALL_STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s)));
  const refresh = h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'history-refresh' }, 'Refresh');

  replace(main, h('div', { class: 'page history', 'data-testid': 'history' },
    h('header', { class: 'page-head' },
      h('h1', { tabindex: '-1' }, 'History'),
      h('p', { class: 'lede' }, 'Every run the server remembers, newest first. Open one to see its timeline, checks and figures.')),
    h('form', { class: 'filters', 'aria-label': 'Filter runs', onsubmit: (e) => e.preventDefault() },
      h('div', { class: 'field' }, h('label', { for: 'history-pattern', class: 'field-label' }, 'Pattern'), patternSelect),
      h('div', { class: 'field' }, h('label', { for: 'history-status-filter', class: 'field-label' }, 'Status'), statusSelect),
      refresh),
    h('div', { class: 'card history-card' }, compareBar, list, status, more)));
  showChosen();

  let cursor = null;
  let controller = null;
  let refreshTimer = 0;

  /** Rows of runs still going are refreshed until they end. */
  function refreshRunning() {
    clearTimeout(refreshTimer);
    const running = [...list.querySelectorAll('[data-status="queued"], [data-status="running"]')].slice(0, 10);
    if (!running.length) return;
    refreshTimer = setTimeout(async () => {
      await Promise.all(running.map(async (item) => {
        try {
          const run = await api.run(item.dataset.runId, controller?.signal);
          if (item.isConnected) item.replaceWith(row({ ...run, checks_passed: checksPassed(run) }));
          showChosen();
        } catch {
          // Gone or unreachable: leave the row as it was.
        }
      }));
      refreshRunning();
    }, 2000);
  }

  async function load(reset) {
    controller?.abort();
    controller = new AbortController();
    if (reset) {
      cursor = null;
      replace(list);
    }
    status.textContent = 'Loading…';
    more.hidden = true;
    try {
      const page = await api.runs({ ...filters, limit: PAGE, cursor }, controller.signal);
      for (const run of page.runs || []) list.append(row(run));
      showChosen();
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      status.textContent = '';
      if (!list.children.length) {
        replace(status, emptyState(filters));
      }
      refreshRunning();
    } catch (error) {
      if (error.name === 'AbortError') return;
      status.textContent = `Could not load the runs: ${error.message}`;
    }
  }

  function changed() {
    filters = { pattern: patternSelect.value, status: statusSelect.value };
    onFilter(filters);
    load(true);
  }

  patternSelect.addEventListener('change', changed);
  statusSelect.addEventListener('change', changed);
  refresh.addEventListener('click', () => load(true));
  more.addEventListener('click', () => load(false));
  load(true);
  return () => {
    clearTimeout(refreshTimer);
    controller?.abort();
  };
}

function checksPassed(run) {
  const checks = run.checks || [];
  return checks.length ? checks.every((check) => check.passed) : null;
}

function emptyState(filters) {
  if (filters.pattern || filters.status) {
    return h('span', { 'data-testid': 'history-empty' }, 'No runs match these filters.');
  }
  return h('span', { 'data-testid': 'history-empty' },
    'No runs yet. ', h('a', { href: '#/' }, 'Pick a pattern'), ' and launch one; it will be listed here.');
}

function checksCell(run) {
  if (run.checks_passed === true) return h('span', { class: 'checks-flag pass', title: 'every check passed' }, '✓ checks');
  if (run.checks_passed === false) return h('span', { class: 'checks-flag fail', title: 'a check failed' }, '✗ checks');
  return h('span', { class: 'checks-flag none' }, '–');
}

/** A short list of runs (a pattern's recent ones), linking to each; `current` is marked. */
export function recentList(runs, current) {
  if (!runs.length) return h('p', { class: 'muted recent-empty' }, 'None yet.');
  return h('ol', { class: 'recent-list', 'data-testid': 'recent-runs' }, runs.map((run) => h('li', {},
    h('a', { class: 'recent-link', href: `#/runs/${encodeURIComponent(run.id)}`, 'data-run-id': run.id,
      'aria-current': run.id === current ? 'page' : false },
    h('span', { class: `badge badge-${run.status}` }, run.status),
    h('code', { class: 'recent-id' }, run.id),
    h('time', { datetime: run.created_at, title: absoluteTime(run.created_at) }, relativeTime(run.created_at)),
    checksCell(run)))));
}

function row(run) {
  const progress = run.progress ? `${count(run.progress.completed)}/${count(run.progress.total)}` : '';
  return h('li', { class: 'history-row', 'data-testid': 'history-row', 'data-run-id': run.id, 'data-status': run.status },
    h('input', { type: 'checkbox', class: 'compare-pick', 'data-testid': 'compare-pick', value: run.id,
      'aria-label': `Pick run ${run.id} to compare` }),
    h('a', { class: 'history-link', href: `#/runs/${encodeURIComponent(run.id)}` },
      h('span', { class: `badge badge-${run.status}` }, run.status),
      h('span', { class: 'history-pattern' }, run.pattern),
      h('code', { class: 'history-id' }, run.id),
      h('time', { class: 'history-time', datetime: run.created_at, title: absoluteTime(run.created_at) },
        relativeTime(run.created_at)),
      h('span', { class: 'history-duration', 'data-clock': run.params?.clock === 'virtual' ? 'virtual' : 'real' },
        run.duration_ms === null || run.duration_ms === undefined ? 'running'
          : `${ms(run.duration_ms)}${run.params?.clock === 'virtual' ? ' virtual' : ''}`),
      h('span', { class: 'history-progress', title: 'tasks completed' }, progress),
      checksCell(run)));
}
