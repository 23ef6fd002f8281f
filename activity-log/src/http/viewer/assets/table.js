// The activity table: every loaded activity is kept in an array, but only
// the rows in view (and a few either side) are in the DOM, so scrolling
// thousands of rows deep stays as light as the first screen.

import { h, clear } from './dom.js';
import { actorLabel, localTime, targetLabel, utcTitle } from './format.js';

const OVERSCAN = 8;
const FRESH_MS = 2500;

export class Table {
  /**
   * @param scroller the scrolling grid element
   * @param tbody its table body
   * @param hooks { open(activity), nearEnd() }
   */
  constructor(scroller, tbody, hooks) {
    this.scroller = scroller;
    this.tbody = tbody;
    this.hooks = hooks;
    this.items = [];
    this.ids = new Set();
    this.fresh = new Map(); // id -> until (ms)
    this.active = -1;
    this.window = [0, 0];
    this.rowHeight = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row-h')) || 36;
    let queued = false;
    scroller.addEventListener('scroll', () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; this.render(); });
    });
    new ResizeObserver(() => this.render(true)).observe(scroller);
    scroller.addEventListener('keydown', (e) => this.key(e));
    tbody.addEventListener('click', (e) => {
      const tr = e.target.closest('tr[data-index]');
      if (!tr) return;
      this.select(Number(tr.dataset.index));
      this.openActive();
    });
  }

  /** Forgets every row. */
  reset() {
    this.items = [];
    this.ids.clear();
    this.active = -1;
    this.scroller.scrollTop = 0;
    this.render(true);
  }

  /** Adds older activities at the end (skipping any already shown). */
  append(items) {
    for (const a of items) {
      if (this.ids.has(a.id)) continue;
      this.ids.add(a.id);
      this.items.push(a);
    }
    this.render(true);
  }

  /** Adds new activities at the top, highlighted for a moment. */
  prepend(items) {
    const added = items.filter((a) => !this.ids.has(a.id));
    if (!added.length) return;
    const until = Date.now() + FRESH_MS;
    for (const a of added) { this.ids.add(a.id); this.fresh.set(a.id, until); }
    this.items.unshift(...added);
    if (this.active >= 0) this.active += added.length;
    this.render(true);
    setTimeout(() => this.render(true), FRESH_MS + 50);
  }

  /** Whether the user is reading the newest rows (live rows may come in). */
  atTop() {
    return this.scroller.scrollTop < this.rowHeight / 2;
  }

  get length() { return this.items.length; }

  /** Puts the rows in view into the DOM. */
  render(force = false) {
    const header = this.scroller.querySelector('thead')?.offsetHeight || 0;
    const top = Math.max(0, this.scroller.scrollTop - header);
    const first = Math.max(0, Math.floor(top / this.rowHeight) - OVERSCAN);
    const visible = Math.ceil(this.scroller.clientHeight / this.rowHeight) + 2 * OVERSCAN;
    const last = Math.min(this.items.length, first + visible);
    if (!force && first === this.window[0] && last === this.window[1]) return;
    this.window = [first, last];
    const now = Date.now();
    for (const [id, until] of this.fresh) if (until < now) this.fresh.delete(id);
    const rows = [];
    rows.push(this.spacer(first * this.rowHeight));
    for (let i = first; i < last; i++) rows.push(this.row(this.items[i], i));
    rows.push(this.spacer((this.items.length - last) * this.rowHeight));
    clear(this.tbody);
    this.tbody.append(...rows);
    this.scroller.setAttribute('aria-rowcount', String(this.items.length + 1));
    const activeRow = this.active >= first && this.active < last ? `r-${this.active}` : null;
    if (activeRow) this.scroller.setAttribute('aria-activedescendant', activeRow);
    else this.scroller.removeAttribute('aria-activedescendant');
    if (this.items.length - last < OVERSCAN * 2) this.hooks.nearEnd();
  }

  spacer(height) {
    const tr = h('tr', { class: 'spacer', 'aria-hidden': 'true' }, h('td', { colSpan: 7 }));
    tr.style.height = `${height}px`; // CSSOM, not an inline style attribute: allowed by the CSP
    return tr;
  }

  row(a, i) {
    const classes = ['row', `o-${a.outcome}`, `s-${a.severity}`];
    if (this.fresh.has(a.id)) classes.push('fresh');
    const time = h('td', { class: 'c-time', title: utcTitle(a.occurred_at) }, h('time', { dateTime: a.occurred_at }, localTime(a.occurred_at)));
    return h('tr', {
      id: `r-${i}`, class: classes.join(' '), role: 'row', dataset: { index: String(i), id: a.id },
      'aria-rowindex': i + 2, 'aria-selected': i === this.active ? 'true' : 'false',
    },
    time,
    h('td', { class: 'c-type' }, a.activity_type),
    h('td', { class: 'c-actor', title: a.actor?.id || '' }, actorLabel(a.actor)),
    h('td', { class: 'c-target' }, targetLabel(a.target)),
    h('td', { class: 'c-outcome' }, h('span', { class: `badge o-${a.outcome}` }, a.outcome)),
    h('td', { class: 'c-severity' }, h('span', { class: `badge s-${a.severity}` }, a.severity)),
    h('td', { class: 'c-desc', title: a.description || '' }, a.description || ''));
  }

  select(i) {
    if (!this.items.length) return;
    this.active = Math.max(0, Math.min(this.items.length - 1, i));
    const header = this.scroller.querySelector('thead')?.offsetHeight || 0;
    const y = this.active * this.rowHeight;
    const view = this.scroller.clientHeight - header;
    if (y < this.scroller.scrollTop) this.scroller.scrollTop = y;
    else if (y + this.rowHeight > this.scroller.scrollTop + view) this.scroller.scrollTop = y + this.rowHeight - view;
    this.render(true);
  }

  openActive() {
    if (this.active >= 0 && this.items[this.active]) this.hooks.open(this.items[this.active]);
  }

  key(e) {
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / this.rowHeight) - 1);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (e.key in moves) this.select(this.active < 0 ? 0 : this.active + moves[e.key]);
    else if (e.key === 'Home') this.select(0);
    else if (e.key === 'End') this.select(this.items.length - 1);
    else if (e.key === 'Enter' || e.key === ' ') {
      if (this.active < 0) this.select(0);
      this.openActive();
    } else return;
    e.preventDefault();
  }
}
