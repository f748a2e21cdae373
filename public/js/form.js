// The parameter form, generated from a catalog entry's parameter schema.
//
// Types: integer -> number input with min/max; boolean -> checkbox; string with choices ->
// select; string -> text; integer_list -> comma-separated text. A default of null means
// optional: left empty, the parameter is omitted. Client-side checks use the same wording as
// the server's 422 messages; the server's own errors are shown at the field they name, and
// errors naming `params` (the whole combination) above the fields.

import { h, replace } from './dom.js';

/** What the server would say about a value outside the schema (mirrors its wording). */
export function boundsMessage(spec) {
  switch (spec.type) {
    case 'integer':
      return `must be an integer from ${spec.min ?? '−∞'} to ${spec.max ?? '∞'}`;
    case 'boolean':
      return 'must be true or false';
    case 'integer_list':
      return `must be a list of 1 to ${spec.max_items ?? '∞'} integers, each from ${spec.min ?? '−∞'} to ${spec.max ?? '∞'}`;
    default:
      return spec.choices ? `must be one of ${spec.choices.map((c) => `'${c}'`).join(', ')}` : 'must be a string';
  }
}

/** Parses "300, 100,200" -> [300, 100, 200]; null when any item is not an integer. */
export function parseIntegerList(text) {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.some((part) => !/^-?\d+$/.test(part))) return null;
  return parts.map(Number);
}

function inRange(number, spec) {
  return (spec.min === undefined || number >= spec.min) && (spec.max === undefined || number <= spec.max);
}

function hint(spec) {
  const parts = [];
  if (spec.type === 'integer' && spec.min !== undefined) parts.push(`${spec.min}–${spec.max}`);
  if (spec.type === 'integer_list') {
    parts.push(`comma-separated, up to ${spec.max_items ?? '∞'} items, each ${spec.min}–${spec.max}`);
  }
  if (spec.default === null || spec.default === undefined) parts.push('optional');
  return parts.join(' · ');
}

function defaultText(spec) {
  if (spec.default === null || spec.default === undefined) return '';
  return Array.isArray(spec.default) ? spec.default.join(', ') : String(spec.default);
}

/**
 * One parameter's label, control, description and error slot. Returns {element, read, write}:
 * read() -> {value, error, omit}; write(value) fills the control.
 */
function field(spec) {
  const id = `param-${spec.name}`;
  const errorId = `${id}-error`;
  const helpId = `${id}-help`;
  const describedBy = `${helpId} ${errorId}`;
  let control;
  if (spec.type === 'boolean') {
    control = h('input', { type: 'checkbox', id, name: spec.name, 'aria-describedby': describedBy });
  } else if (spec.type === 'string' && Array.isArray(spec.choices)) {
    control = h('select', { id, name: spec.name, 'aria-describedby': describedBy },
      spec.choices.map((choice) => h('option', { value: choice }, choice)));
  } else if (spec.type === 'integer') {
    control = h('input', {
      type: 'number', id, name: spec.name, inputmode: 'numeric', step: 1,
      min: spec.min, max: spec.max, required: spec.default !== null && spec.default !== undefined,
      placeholder: spec.default === null || spec.default === undefined ? 'optional' : '',
      'aria-describedby': describedBy,
    });
  } else {
    control = h('input', {
      type: 'text', id, name: spec.name, autocomplete: 'off', spellcheck: 'false',
      placeholder: spec.type === 'integer_list' ? 'e.g. 300, 100, 200' : '',
      'aria-describedby': describedBy,
    });
  }
  control.dataset.param = spec.name;
  control.dataset.testid = `param-${spec.name}`;

  const error = h('p', { class: 'field-error', id: errorId, 'data-testid': `field-error-${spec.name}`, hidden: true });
  const help = h('p', { class: 'field-help', id: helpId },
    spec.description || '', hint(spec) ? h('span', { class: 'field-bounds' }, ` (${hint(spec)})`) : null);
  const label = h('label', { for: id, class: 'field-label' }, h('code', {}, spec.name));
  const element = spec.type === 'boolean'
    ? h('div', { class: 'field field-check', 'data-field': spec.name },
      h('div', { class: 'check-row' }, control, label), help, error)
    : h('div', { class: 'field', 'data-field': spec.name }, label, control, help, error);

  function write(value) {
    if (spec.type === 'boolean') control.checked = Boolean(value);
    else if (value === null || value === undefined) control.value = '';
    else control.value = Array.isArray(value) ? value.join(', ') : String(value);
  }

  function read() {
    if (spec.type === 'boolean') return { value: control.checked };
    const text = control.value.trim();
    const optional = spec.default === null || spec.default === undefined;
    if (spec.type === 'integer') {
      if (control.validity.badInput) return { error: boundsMessage(spec) };
      if (text === '') return optional ? { omit: true } : { error: 'is required' };
      const number = Number(text);
      if (!Number.isInteger(number) || !inRange(number, spec)) return { error: boundsMessage(spec) };
      return { value: number };
    }
    if (spec.type === 'integer_list') {
      if (text === '') return optional ? { omit: true } : { error: boundsMessage(spec) };
      const list = parseIntegerList(text);
      const tooMany = spec.max_items !== undefined && list && list.length > spec.max_items;
      if (!list || tooMany || !list.every((n) => inRange(n, spec))) return { error: boundsMessage(spec) };
      return { value: list };
    }
    if (text === '' && optional) return { omit: true };
    return { value: control.value };
  }

  function showError(message) {
    error.textContent = message || '';
    error.hidden = !message;
    element.classList.toggle('has-error', Boolean(message));
    if (message) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  }

  control.addEventListener('input', () => {
    if (!element.classList.contains('has-error')) return;
    const { error: problem } = read();
    if (!problem) showError('');
  });
  control.addEventListener('blur', () => {
    const { error: problem } = read();
    if (problem) showError(problem);
  });

  write(spec.default);
  return { spec, element, control, read, write, showError };
}

/**
 * The form for one pattern. `onSubmit(params)` is called with the values to send, only when
 * they pass the schema's checks. Returns {element, setValues, showProblem, clearErrors, values}.
 */
export function buildForm(entry, { onSubmit, onCopyCurl }) {
  const fields = entry.parameters.map(field);
  const byName = new Map(fields.map((f) => [f.spec.name, f]));
  const formError = h('div', { class: 'form-error', role: 'alert', 'data-testid': 'form-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'run-button' },
    'Run');
  const curl = h('button', { type: 'button', class: 'btn', 'data-testid': 'copy-curl-form',
    title: 'Copy a curl command that launches a run with these parameters' }, 'Copy as curl');
  const reset = h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'reset-form' }, 'Defaults');

  const form = h('form', { class: 'param-form', 'data-testid': 'param-form', novalidate: true,
    'aria-label': `Parameters of ${entry.name}` },
  formError,
  fields.length ? fields.map((f) => f.element) : h('p', { class: 'muted' }, 'This pattern takes no parameters.'),
  h('div', { class: 'form-actions' }, submit, curl, reset));

  function clearErrors() {
    formError.hidden = true;
    replace(formError);
    for (const f of fields) f.showError('');
  }

  /** Reads every field; focuses and marks the first invalid one. null when invalid. */
  function values() {
    const params = {};
    let firstInvalid = null;
    for (const f of fields) {
      const { value, error, omit } = f.read();
      f.showError(error || '');
      if (error && !firstInvalid) firstInvalid = f;
      if (!error && !omit) params[f.spec.name] = value;
    }
    if (firstInvalid) {
      firstInvalid.control.focus();
      return null;
    }
    return params;
  }

  function setBusy(busy) {
    submit.disabled = busy;
    submit.textContent = busy ? 'Starting…' : 'Run';
  }

  function setValues(params) {
    for (const f of fields) {
      if (params && Object.hasOwn(params, f.spec.name)) f.write(params[f.spec.name]);
      else f.write(f.spec.default);
    }
    clearErrors();
  }

  /** Shows an ApiError (or any error) at the fields it names, the rest above the form. */
  function showProblem(error) {
    clearErrors();
    const general = [];
    let focused = false;
    for (const issue of error.fieldErrors || []) {
      const target = byName.get(issue.field);
      if (target) {
        target.showError(issue.message);
        if (!focused) { target.control.focus(); focused = true; }
      } else {
        general.push(issue.field && issue.field !== 'params' ? `${issue.field}: ${issue.message}` : issue.message);
      }
    }
    if (general.length || !(error.fieldErrors || []).length) {
      const title = error.status === 422 ? 'The server did not accept these parameters'
        : error.problem?.title || 'The run could not be started';
      replace(formError,
        h('strong', {}, title),
        general.length
          ? h('ul', {}, general.map((message) => h('li', {}, message)))
          : h('p', {}, error.message || ''));
      formError.hidden = false;
      if (!focused) formError.scrollIntoView({ block: 'nearest' });
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors();
    const params = values();
    if (!params) return;
    setBusy(true);
    try {
      await onSubmit(params);
    } finally {
      setBusy(false);
    }
  });
  curl.addEventListener('click', () => {
    const params = values();
    if (params) onCopyCurl(params);
  });
  reset.addEventListener('click', () => setValues(null));

  return { element: form, setValues, showProblem, clearErrors, values };
}
