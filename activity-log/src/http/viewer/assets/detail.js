// The detail panel: every field of one activity, its metadata as formatted
// JSON and its changes as a diff. All of it as text.

import { $, h, clear } from './dom.js';
import { duration, localTime } from './format.js';
import { lineDiff, pretty } from './diff.js';

export class Detail {
  constructor(onClose) {
    this.panel = $('detail');
    this.onClose = onClose;
    $('d-close').addEventListener('click', () => this.close());
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.preventDefault(); this.close(); }
    });
  }

  get open() { return !this.panel.hidden; }

  show(a) {
    $('d-title').textContent = a.activity_type;
    const fields = [
      ['Id', a.id],
      ['Time (UTC)', a.occurred_at],
      ['Time (local)', localTime(a.occurred_at)],
      ['Tenant', a.tenant],
      ['Type', a.activity_type],
      ['Actor id', a.actor?.id],
      ['Actor kind', a.actor?.kind],
      ['Actor name', a.actor?.name],
      ['Target kind', a.target?.kind],
      ['Target id', a.target?.id],
      ['Target name', a.target?.name],
      ['Outcome', a.outcome],
      ['Error', a.error],
      ['Severity', a.severity],
      ['Description', a.description],
      ['IP address', a.ip],
      ['User agent', a.user_agent],
      ['Request id', a.request_id],
      ['Trace id', a.trace_id],
      ['Duration', duration(a.duration_us)],
      ['Tags', (a.tags || []).join(', ')],
    ];
    const dl = $('d-fields');
    clear(dl);
    for (const [label, value] of fields) {
      dl.append(h('dt', {}, label), h('dd', { class: value ? '' : 'none' }, value ? String(value) : '—'));
    }
    const changes = $('d-changes');
    clear(changes);
    const entries = Object.entries(a.changes || {});
    if (!entries.length) changes.append(h('p', { class: 'none' }, 'No changes recorded.'));
    for (const [field, change] of entries) {
      const lines = lineDiff(change.before, change.after);
      changes.append(h('section', { class: 'change' },
        h('h4', {}, field),
        h('pre', { class: 'diff', 'aria-label': `Changes to ${field}` },
          lines.map(([tag, text]) => h(tag === '-' ? 'del' : tag === '+' ? 'ins' : 'span', { class: 'line' }, `${tag} ${text}`)))));
    }
    const meta = a.metadata && Object.keys(a.metadata).length ? pretty(a.metadata) : '{}';
    $('d-metadata').textContent = meta;
    this.panel.hidden = false;
    document.body.classList.add('with-detail');
    this.panel.focus();
  }

  close() {
    if (!this.open) return;
    this.panel.hidden = true;
    document.body.classList.remove('with-detail');
    this.onClose();
  }
}
