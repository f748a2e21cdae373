// The catalog: the sidebar list, the overview of every pattern, and one pattern's page.

import { h, replace } from './dom.js';

/** The sidebar: one link per pattern, the current one marked. */
export function renderNav(list, patterns) {
  replace(list, patterns.map((p) => h('li', {},
    h('a', { href: `#/patterns/${encodeURIComponent(p.name)}`, class: 'pattern-link',
      'data-testid': 'pattern-link', 'data-pattern': p.name },
    h('span', { class: 'pattern-link-name' }, p.name),
    h('span', { class: 'pattern-link-title' }, shortTitle(p))))));
}

export function markCurrent(list, name) {
  for (const link of list.querySelectorAll('a[data-pattern]')) {
    if (link.dataset.pattern === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/** "Semaphore: bound concurrency" -> "bound concurrency" (the name is shown beside it). */
function shortTitle(entry) {
  const title = entry.title || entry.name;
  const colon = title.indexOf(':');
  return colon > 0 ? title.slice(colon + 1).trim() : title;
}

function constructs(entry) {
  return h('dl', { class: 'constructs' },
    h('div', {}, h('dt', {}, 'Python asyncio'), h('dd', {}, h('code', { 'data-testid': 'asyncio' }, entry.asyncio || '–'))),
    h('div', {}, h('dt', {}, 'Swift'), h('dd', {}, h('code', { 'data-testid': 'swift' }, entry.swift || '–'))));
}

/** Every pattern as a card: the landing page. */
export function renderOverview(main, patterns) {
  replace(main, h('div', { class: 'page overview', 'data-testid': 'overview' },
    h('header', { class: 'page-head' },
      h('h1', { tabindex: '-1' }, 'Concurrency patterns, run for real'),
      h('p', { class: 'lede' },
        'Each pattern is an experiment: set its parameters, launch it, and watch its tasks on a live timeline. ',
        'When it ends, the run checks its own invariants from what it observed.')),
    h('ul', { class: 'cards', 'data-testid': 'pattern-cards' }, patterns.map((p) => h('li', {},
      h('a', { class: 'card pattern-card', href: `#/patterns/${encodeURIComponent(p.name)}`,
        'data-testid': 'pattern-card', 'data-pattern': p.name },
      h('span', { class: 'card-name' }, p.name),
      h('span', { class: 'card-title' }, p.title),
      h('span', { class: 'card-summary' }, p.summary),
      h('span', { class: 'card-constructs' },
        h('code', {}, p.asyncio), h('span', { 'aria-hidden': 'true' }, ' ↔ '),
        h('span', { class: 'visually-hidden' }, ' in Swift: '), h('code', {}, p.swift))))))));
}

/**
 * One pattern's page: what it is, what it checks, the form, and a slot for its run.
 * Returns {formSlot, runSlot, recentSlot}.
 */
export function renderPattern(main, entry) {
  const formSlot = h('div', { class: 'form-slot' });
  const recentSlot = h('div', { class: 'recent-slot' }, h('p', { class: 'muted' }, 'Loading…'));
  const runSlot = h('div', { class: 'run-slot', 'data-testid': 'run-slot' }, emptyRun());
  const invariants = (entry.invariants || []).length
    ? h('ul', { class: 'invariants', 'data-testid': 'invariants' }, entry.invariants.map((text) => h('li', {}, text)))
    : h('p', { class: 'muted' }, 'No invariants listed.');
  replace(main, h('div', { class: 'page pattern-page', 'data-testid': 'pattern-detail', 'data-pattern': entry.name },
    h('header', { class: 'page-head' },
      h('p', { class: 'eyebrow' }, h('code', {}, entry.name)),
      h('h1', { tabindex: '-1', 'data-testid': 'pattern-title' }, entry.title || entry.name),
      h('p', { class: 'lede', 'data-testid': 'pattern-summary' }, entry.summary || '')),
    h('div', { class: 'lab' },
      h('div', { class: 'lab-side' },
        h('section', { class: 'card about', 'aria-label': 'About this pattern' },
          constructs(entry),
          entry.swift_note
            ? h('p', { class: 'swift-note', 'data-testid': 'swift-note' }, h('strong', {}, 'In Swift: '), entry.swift_note)
            : null,
          h('h2', { class: 'small-head' }, 'Invariants each run checks'),
          invariants),
        h('section', { class: 'card', 'aria-labelledby': 'params-head' },
          h('h2', { id: 'params-head', class: 'small-head' }, 'Parameters'),
          formSlot),
        h('section', { class: 'card recent', 'aria-labelledby': 'recent-head' },
          h('h2', { id: 'recent-head', class: 'small-head' }, 'Recent runs ',
            h('a', { class: 'small-link', href: `#/runs?pattern=${encodeURIComponent(entry.name)}` }, 'all')),
          recentSlot)),
      runSlot)));
  return { formSlot, runSlot, recentSlot };
}

export function emptyRun() {
  return h('div', { class: 'card run-empty', 'data-testid': 'run-empty' },
    emptyArt(),
    h('h2', {}, 'No run yet'),
    h('p', {}, 'Set the parameters and press ', h('strong', {}, 'Run'),
      '. Its tasks appear here as bars on a timeline while they run, and the checks and figures when it ends.'),
    h('p', { class: 'muted' }, 'Past runs are in ', h('a', { href: '#/runs' }, 'History'), '.'));
}

/** A quiet sketch of a timeline: three staggered bars. Decorative. */
function emptyArt() {
  const art = h('span', { class: 'run-empty-art', 'aria-hidden': 'true' });
  art.innerHTML = '<svg viewBox="0 0 120 44" width="120" height="44">'
    + '<rect x="4" y="4" width="52" height="8" rx="2"/><rect x="20" y="18" width="70" height="8" rx="2"/>'
    + '<rect x="44" y="32" width="72" height="8" rx="2"/></svg>';
  return art;
}
