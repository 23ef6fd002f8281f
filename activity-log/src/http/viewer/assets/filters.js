// The filters: read from and written to the page's own query string (so a
// view can be bookmarked), and to the form. Only parameters the API knows
// are ever sent; anything else in the page's URL is ignored.

import { $, h } from './dom.js';
import { fromLocalInput, toLocalInput } from './format.js';

const SINGLE = ['actor', 'target_kind', 'target_id', 'outcome', 'severity', 'request_id', 'hours', 'since', 'until', 'q'];

/** The filters in the page's URL. */
export function fromUrl() {
  const p = new URLSearchParams(location.search);
  const f = { type: p.getAll('type').filter(Boolean) };
  for (const k of SINGLE) f[k] = p.get(k) || '';
  if (f.hours && !/^[1-9][0-9]{0,5}$/.test(f.hours)) f.hours = '';
  for (const k of ['since', 'until']) if (f[k] && Number.isNaN(Date.parse(f[k]))) f[k] = '';
  if (f.hours) { f.since = ''; }
  return f;
}

/** The API query for the filters. */
export function toParams(f, { withTime = true } = {}) {
  const p = new URLSearchParams();
  for (const t of f.type) p.append('type', t);
  for (const k of SINGLE) {
    if (!withTime && (k === 'hours' || k === 'since' || k === 'until')) continue;
    if (f[k]) p.set(k, f[k]);
  }
  return p;
}

/** Puts the filters in the page's URL, keeping the fragment (the token). */
export function writeUrl(f, push) {
  const u = new URL(location.href);
  u.search = toParams(f).toString();
  if (u.href === location.href) return;
  if (push) history.pushState(null, '', u);
  else history.replaceState(null, '', u);
}

/** The histogram bucket that suits the time range. */
export function bucketFor(f) {
  if (f.hours) return Number(f.hours) <= 48 ? 'hour' : 'day';
  if (f.since) {
    const end = f.until ? Date.parse(f.until) : Date.now();
    return end - Date.parse(f.since) <= 48 * 3600e3 ? 'hour' : 'day';
  }
  return 'day';
}

/** The form: shows filters and reads them back. */
export class FilterForm {
  constructor(onChange) {
    this.form = $('filters');
    this.type = $('f-type');
    this.range = $('f-range');
    this.custom = [...this.form.querySelectorAll('.custom')];
    this.onChange = onChange;
    let timer = null;
    const soon = () => { clearTimeout(timer); timer = setTimeout(() => this.changed(), 400); };
    this.form.addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(timer); this.changed(); });
    for (const id of ['f-type', 'f-outcome', 'f-severity', 'f-since', 'f-until']) $(id).addEventListener('change', () => this.changed());
    this.range.addEventListener('change', () => { this.showCustom(); if (this.range.value !== 'custom') this.changed(); });
    for (const id of ['f-actor', 'f-target-kind', 'f-target-id', 'f-q']) $(id).addEventListener('input', soon);
    $('f-clear').addEventListener('click', () => { this.show({ type: [], ...Object.fromEntries(SINGLE.map((k) => [k, ''])) }); this.changed(); });
  }

  showCustom() {
    for (const el of this.custom) el.hidden = this.range.value !== 'custom';
  }

  /** Offers these types in the type menu (keeping the selected one). */
  setTypes(types) {
    const selected = this.type.value;
    const known = new Set(types);
    if (selected) known.add(selected);
    while (this.type.options.length > 1) this.type.remove(1);
    for (const t of [...known].sort()) this.type.add(h('option', { value: t }, t));
    this.type.value = selected;
  }

  show(f) {
    if (f.type[0] && ![...this.type.options].some((o) => o.value === f.type[0])) {
      this.type.add(h('option', { value: f.type[0] }, f.type[0]));
    }
    this.type.value = f.type[0] || '';
    $('f-actor').value = f.actor;
    $('f-target-kind').value = f.target_kind;
    $('f-target-id').value = f.target_id;
    $('f-outcome').value = f.outcome;
    $('f-severity').value = f.severity;
    $('f-q').value = f.q;
    if (f.hours) {
      if (![...this.range.options].some((o) => o.value === f.hours)) {
        this.range.add(h('option', { value: f.hours }, `Last ${f.hours} hours`), this.range.options.length - 1);
      }
      this.range.value = f.hours;
    } else {
      this.range.value = f.since || f.until ? 'custom' : '';
    }
    $('f-since').value = f.since ? toLocalInput(f.since) : '';
    $('f-until').value = f.until ? toLocalInput(f.until) : '';
    this.showCustom();
    this.requestId = f.request_id;
  }

  read() {
    const range = this.range.value;
    const custom = range === 'custom';
    const trim = (id) => $(id).value.trim();
    return {
      type: this.type.value ? [this.type.value] : [],
      actor: trim('f-actor'),
      target_kind: trim('f-target-kind'),
      target_id: trim('f-target-id'),
      outcome: $('f-outcome').value,
      severity: $('f-severity').value,
      request_id: this.requestId || '',
      hours: custom ? '' : range,
      since: custom ? fromLocalInput($('f-since').value) : '',
      until: custom ? fromLocalInput($('f-until').value) : '',
      q: trim('f-q'),
    };
  }

  changed() {
    this.onChange(this.read());
  }
}
