// How numbers, times and names read on the page.

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const precise = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });

/** 0.2 ms, 701.2 ms, 12,345 ms: always milliseconds, as the API speaks them. */
export function ms(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const rounded = Math.abs(value) >= 100 ? Math.round(value) : value;
  return `${grouped.format(rounded)} ms`;
}

/** A count with thousands separators. */
export function count(value) {
  return grouped.format(value);
}

/** peak_concurrency_within_limit -> "peak concurrency within limit" */
export function humanize(name) {
  return String(name).replaceAll('_', ' ').replaceAll('.', ' · ');
}

/** A result figure or a check's observed value, in words a person reads. */
export function value(raw, key = '') {
  if (raw === null || raw === undefined) return '–';
  if (typeof raw === 'boolean') return raw ? 'yes' : 'no';
  if (typeof raw === 'number') {
    if (/(_ms|Ms)$/.test(key)) return ms(raw);
    return Number.isInteger(raw) ? grouped.format(raw) : precise.format(raw);
  }
  if (Array.isArray(raw)) return raw.length ? raw.map((item) => value(item)).join(', ') : 'none';
  // An observation with parts (wait's done and pending): each part by name.
  if (typeof raw === 'object') {
    return Object.entries(raw).map(([part, item]) => `${humanize(part)}: ${value(item, part)}`).join(' · ');
  }
  return String(raw);
}

/** "3 s ago", "5 min ago", or a date for older moments. */
export function relativeTime(iso, now = Date.now()) {
  const moment = Date.parse(iso);
  if (Number.isNaN(moment)) return '–';
  const seconds = Math.round((now - moment) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(moment).toLocaleDateString(undefined, { month: 'short', day: 'numeric', year: 'numeric' });
}

export function absoluteTime(iso) {
  const moment = Date.parse(iso);
  return Number.isNaN(moment) ? '' : new Date(moment).toLocaleString();
}

/** The exact command that launches the same run from a shell. */
export function curlCommand(origin, pattern, params) {
  const body = JSON.stringify(params ?? {});
  const quote = (text) => `'${text.replaceAll("'", "'\\''")}'`;
  const url = `${origin}/patterns/${encodeURIComponent(pattern)}/runs?wait=30`;
  return `curl -s -X POST ${quote(url)} -H 'Content-Type: application/json' -d ${quote(body)}`;
}

/** Copies text to the clipboard when the browser allows it; says whether it did. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Fall through: some browsers refuse without focus or permission.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

export const OUTCOMES = ['ok', 'error', 'cancelled', 'timeout'];
