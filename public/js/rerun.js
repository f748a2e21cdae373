// "Run again with one parameter changed": under a finished run, a parameter, its new value and
// a button that launches the run's twin with that one change and opens the comparison of the two.

import { api, ApiError } from './api.js';
import { h, replace } from './dom.js';
import { parseIntegerList } from './form.js';

/** A parameter's new value typed as the catalog says; {error} when it does not parse. */
export function parseParameter(spec, text) {
  const raw = String(text).trim();
  if (raw === '' && (spec.default === null || spec.default === undefined)) return { omit: true };
  if (spec.type === 'boolean') return { value: raw === 'true' };
  if (spec.type === 'integer') {
    return /^-?\d+$/.test(raw) ? { value: Number(raw) } : { error: `${spec.name} must be an integer` };
  }
  if (spec.type === 'integer_list') {
    const list = parseIntegerList(raw);
    return list ? { value: list } : { error: `${spec.name} must be a comma-separated list of integers` };
  }
  return { value: raw };
}

function valueControl(spec, current) {
  if (spec.type === 'boolean' || Array.isArray(spec.choices)) {
    const options = spec.type === 'boolean' ? ['true', 'false'] : spec.choices;
    const shown = String(current ?? spec.default);
    // Preselect the other choice: the point is to change it.
    const pick = options.find((option) => option !== shown) ?? shown;
    return h('select', { class: 'rerun-value', 'data-testid': 'rerun-value', 'aria-label': 'New value' },
      options.map((option) => h('option', { value: option, selected: option === pick }, option)));
  }
  const text = Array.isArray(current) ? current.join(', ') : current ?? spec.default ?? '';
  return h('input', { type: 'text', class: 'rerun-value', 'data-testid': 'rerun-value', 'aria-label': 'New value',
    value: String(text), autocomplete: 'off', spellcheck: 'false' });
}

/** Under a finished run: run it again with one parameter changed, or pick a run to compare. */
export function rerunForm(entry, run) {
  const specs = entry?.parameters || [];
  if (!specs.length) return null;
  const error = h('p', { class: 'field-error', 'data-testid': 'rerun-error', role: 'alert', hidden: true });
  const select = h('select', { class: 'rerun-param', 'data-testid': 'rerun-param', 'aria-label': 'Parameter to change' },
    specs.map((spec) => h('option', { value: spec.name }, spec.name)));
  const slot = h('span', { class: 'rerun-slot' });
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const showControl = () => replace(slot, valueControl(byName.get(select.value), run.params?.[select.value]));
  select.addEventListener('change', showControl);
  showControl();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'rerun-button' }, 'Run and compare');
  const form = h('form', { class: 'rerun-form', 'data-testid': 'rerun-form', 'aria-label': 'Run again with one change' },
    h('span', {}, 'Run again with '), select, h('span', {}, ' = '), slot, submit, error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const spec = byName.get(select.value);
    const parsed = parseParameter(spec, slot.firstElementChild.value);
    error.hidden = !parsed.error;
    error.textContent = parsed.error || '';
    if (parsed.error) return;
    submit.disabled = true;
    try {
      const params = { ...run.params, [spec.name]: parsed.value };
      if (parsed.omit) delete params[spec.name];
      const again = await api.launch(run.pattern, params);
      window.location.hash = `#/compare/${encodeURIComponent(run.id)}/${encodeURIComponent(again.id)}`;
    } catch (failure) {
      const fields = failure instanceof ApiError ? failure.fieldErrors.map((issue) => `${issue.field}: ${issue.message}`) : [];
      error.textContent = fields.length ? fields.join('; ') : failure.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'run-section compare-actions', 'aria-label': 'Compare' },
    h('h3', {}, 'Compare'), form,
    h('p', { class: 'muted' }, h('a', { href: `#/runs?pattern=${encodeURIComponent(run.pattern)}&compare=${encodeURIComponent(run.id)}`,
      'data-testid': 'compare-from-history' }, 'Compare with a run from history…')));
}

