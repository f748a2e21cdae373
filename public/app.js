// Concurrency Lab: the browser page. Plain ES modules, no build step.
//
// Routes (the hash is the deep link):
//   #/                  every pattern, as cards
//   #/patterns/NAME     a pattern: what it is, its form, and the run launched from it
//   #/runs/ID           a run, shown on its pattern's page with the form holding its parameters
//   #/runs?pattern=&status=&compare=ID   history (compare: a run already picked to compare)
//   #/compare/A/B       two runs on one time axis, their checks and figures side by side

import { api, ApiError, NetworkError } from './js/api.js';
import { markCurrent, renderNav, renderOverview, renderPattern } from './js/catalog.js';
import { showCompare } from './js/compare.js';
import { h, replace, toast } from './js/dom.js';
import { copyText, curlCommand } from './js/format.js';
import { buildForm } from './js/form.js';
import { recentList, showHistory } from './js/history.js';
import { RunView } from './js/run-view.js';

const main = document.getElementById('main');
const nav = document.querySelector('[data-testid="pattern-nav"]');

const state = {
  patterns: [],
  byName: new Map(),
  page: null,        // {name, form, runSlot} while a pattern page is shown
  runView: null,
  leaveHistory: null,
  launched: new Map(), // run id -> Run, for runs this page just created (no second fetch)
};

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { segments, query: new URLSearchParams(query) };
}

function setNav(current) {
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function leave({ keepPattern = false } = {}) {
  state.runView?.dispose();
  state.runView = null;
  state.leaveHistory?.();
  state.leaveHistory = null;
  if (!keepPattern) state.page = null;
}

function focusHeading() {
  main.querySelector('h1')?.focus({ preventScroll: false });
}

async function route() {
  const { segments, query } = parseHash();
  const [first, second] = segments;
  if (first === 'patterns' && second) return showPattern(second);
  if (first === 'runs' && second) return showRun(second);
  if (first === 'compare' && second && segments[2]) return showComparison(second, segments[2]);
  if (first === 'runs') return showRuns(query);
  return showOverview();
}

function showOverview() {
  leave();
  setNav('patterns');
  markCurrent(nav, null);
  renderOverview(main, state.patterns);
  document.title = 'Concurrency Lab';
  focusHeading();
}

function showRuns(query) {
  leave();
  setNav('runs');
  markCurrent(nav, null);
  document.title = 'History · Concurrency Lab';
  const filters = { pattern: query.get('pattern') || '', status: query.get('status') || '' };
  const picked = query.get('compare') ? [query.get('compare')] : [];
  state.leaveHistory = showHistory(main, state.patterns, filters, (next) => {
    const params = new URLSearchParams();
    if (next.pattern) params.set('pattern', next.pattern);
    if (next.status) params.set('status', next.status);
    if (query.get('compare')) params.set('compare', query.get('compare'));
    const hash = `#/runs${params.size ? `?${params}` : ''}`;
    history.replaceState(null, '', hash);
  }, picked);
  focusHeading();
}

function showComparison(idA, idB) {
  leave();
  setNav('runs');
  markCurrent(nav, null);
  document.title = 'Compare runs · Concurrency Lab';
  state.leaveHistory = showCompare(main, [idA, idB], state.byName);
  focusHeading();
}

function notFound(title, message) {
  leave();
  replace(main, h('div', { class: 'page', 'data-testid': 'not-found' },
    h('h1', { tabindex: '-1' }, title), h('p', { class: 'lede' }, message),
    h('p', {}, h('a', { href: '#/' }, 'All patterns'), ' · ', h('a', { href: '#/runs' }, 'History'))));
  focusHeading();
}

/** Shows a pattern's page; keeps it (and the form's values) when it is already shown. */
function showPattern(name, { params = null, keepRun = false } = {}) {
  const entry = state.byName.get(name);
  if (!entry) {
    notFound('No such pattern', `The server has no pattern named “${name}”.`);
    return null;
  }
  setNav('patterns');
  markCurrent(nav, name);
  document.title = `${entry.name} · Concurrency Lab`;
  if (state.page?.name === name) {
    if (!keepRun) {
      leave({ keepPattern: true });
      state.page.resetRun();
    }
    if (params) state.page.form.setValues(params);
    return state.page;
  }
  leave();
  const { formSlot, runSlot, recentSlot } = renderPattern(main, entry);
  const form = buildForm(entry, {
    onSubmit: (values) => launch(entry, values),
    onCopyCurl: async (values) => {
      const command = curlCommand(window.location.origin, entry.name, values);
      showCurl(formSlot, command);
      toast(await copyText(command) ? 'curl command copied' : 'Select the command to copy it');
    },
  });
  formSlot.append(form.element);
  if (params) form.setValues(params);
  const emptyRun = runSlot.firstElementChild;
  state.page = { name, form, runSlot, recentSlot, resetRun: () => replace(runSlot, emptyRun) };
  refreshRecent();
  focusHeading();
  return state.page;
}

/** The pattern page's short list of its latest runs, the one on screen marked. */
async function refreshRecent() {
  const page = state.page;
  if (!page) return;
  try {
    const { runs = [] } = await api.runs({ pattern: page.name, limit: 5 });
    if (state.page !== page) return;
    replace(page.recentSlot, recentList(runs, state.runView?.run?.id));
  } catch (error) {
    if (state.page === page) replace(page.recentSlot, h('p', { class: 'muted' }, `Unavailable: ${error.message}`));
  }
}

function showCurl(slot, command) {
  let output = slot.querySelector('[data-testid="curl-command-form"]');
  if (!output) {
    output = h('pre', { class: 'curl-output', 'data-testid': 'curl-command-form' });
    slot.append(output);
  }
  output.textContent = command;
}

async function launch(entry, values) {
  try {
    const run = await api.launch(entry.name, values);
    state.launched.set(run.id, run);
    window.location.hash = `#/runs/${encodeURIComponent(run.id)}`;
  } catch (error) {
    if (error instanceof ApiError) {
      if (error.status === 429) {
        const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : '';
        error.problem = { ...error.problem, title: 'Too many runs in flight', detail: `${error.message}.${wait}` };
      }
      state.page?.form.showProblem(error);
    } else {
      state.page?.form.showProblem({ message: error instanceof NetworkError ? error.message : String(error),
        problem: { title: 'The run could not be started' } });
    }
  }
}

async function showRun(id) {
  let run = state.launched.get(id);
  state.launched.delete(id);
  const fromThisPage = Boolean(run);
  if (!run) {
    try {
      run = await api.run(id);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        notFound('No such run', `The server has no run with id “${id}”. It may have been forgotten.`);
      } else {
        notFound('Could not load the run', error.message);
      }
      return;
    }
  }
  if (parseHash().segments[1] !== id) return; // the user moved on while we fetched
  const page = showPattern(run.pattern, { params: fromThisPage ? null : run.params, keepRun: true });
  if (!page) return;
  leave({ keepPattern: true });
  document.title = `Run ${run.id} · ${run.pattern} · Concurrency Lab`;
  state.runView = new RunView(page.runSlot, state.byName.get(run.pattern), () => refreshRecent());
  state.runView.open(run);
  refreshRecent();
  // Bring the new run's head into view when it is off screen (below the form on narrow
  // screens, scrolled past on wide ones); scroll-padding keeps it clear of the top bar.
  const top = page.runSlot.getBoundingClientRect().top;
  if (fromThisPage && (top < 56 || top > window.innerHeight - 120)) {
    page.runSlot.scrollIntoView({ block: 'start' });
  }
}

async function watchHealth() {
  const pill = document.querySelector('[data-testid="server-health"]');
  const text = pill.querySelector('.health-text');
  try {
    const health = await api.health();
    pill.dataset.state = health.status === 'ok' ? 'ok' : 'degraded';
    text.textContent = health.version ? `server ${health.version}` : `server ${health.status}`;
    pill.title = `Server ${health.status}${health.uptime_s !== undefined ? `, up ${Math.round(health.uptime_s)} s` : ''}`;
  } catch {
    pill.dataset.state = 'down';
    text.textContent = 'server unreachable';
    pill.title = 'The server did not answer /healthz';
  }
}

async function start() {
  watchHealth();
  setInterval(watchHealth, 30_000);
  try {
    state.patterns = await api.patterns();
  } catch (error) {
    replace(main, h('div', { class: 'page' },
      h('h1', { tabindex: '-1' }, 'The catalog could not be loaded'),
      h('p', { class: 'lede' }, error.message),
      h('p', {}, h('button', { class: 'btn', type: 'button', onclick: () => window.location.reload() }, 'Try again'))));
    replace(nav, h('li', { class: 'muted' }, 'Unavailable'));
    return;
  }
  state.byName = new Map(state.patterns.map((p) => [p.name, p]));
  renderNav(nav, state.patterns);
  document.body.dataset.ready = 'true';
  window.addEventListener('hashchange', route);
  route();
}

start();
