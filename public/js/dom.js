// Tiny DOM helpers: build elements declaratively, without a framework.

/**
 * h('button', {class: 'btn', onclick: fn, 'data-testid': 'run'}, 'Run') -> HTMLButtonElement.
 * Attribute values of false/null/undefined are left out; true sets an empty attribute.
 * Children may be strings, numbers, nodes, arrays of them, or null (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attrs);
  append(element, children);
  return element;
}

function setAttributes(element, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'value' && 'value' in element) {
      element.value = value;
    } else if (key === 'checked' || key === 'selected' || key === 'hidden' || key === 'disabled') {
      element[key] = Boolean(value);
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces every child of `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Escapes text for HTML or SVG markup built as a string. */
export function esc(text) {
  return String(text)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

let toastTimer = 0;

/** A short polite message at the bottom of the screen. */
export function toast(message) {
  const node = document.querySelector('.toast');
  if (!node) return;
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 2600);
}
