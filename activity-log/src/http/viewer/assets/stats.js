// The statistics panel: counts by type and outcome, top actors, and a
// histogram over the selected range drawn as SVG.

import { $, h, svg, clear } from './dom.js';
import { localTime } from './format.js';

function bars(list, entries, onPick) {
  clear(list);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  for (const [label, n] of entries) {
    const meter = h('meter', { min: 0, max, value: n, 'aria-hidden': 'true' });
    const content = [h('span', { class: 'label' }, label), h('span', { class: 'count' }, n.toLocaleString()), meter];
    list.append(h('li', {}, onPick
      ? h('button', { type: 'button', class: 'pick', title: `Show only ${label}`, onclick: () => onPick(label) }, ...content)
      : h('div', { class: 'pick' }, ...content)));
  }
  if (!entries.length) list.append(h('li', { class: 'none' }, 'None'));
}

export function showStats(stats, { pickType, pickActor }) {
  $('s-total').textContent = stats.total.toLocaleString();
  const sorted = (o) => Object.entries(o || {}).sort((a, b) => b[1] - a[1]);
  bars($('s-types'), sorted(stats.by_type).slice(0, 12), pickType);
  bars($('s-outcomes'), sorted(stats.by_outcome), null);
  bars($('s-actors'), (stats.top_actors || []).map((a) => [a.actor, a.count]), pickActor);
  histogram(stats.histogram || []);
}

function histogram(buckets) {
  const chart = $('s-hist');
  clear(chart);
  const W = 600, H = 120;
  $('s-hist-from').textContent = buckets.length ? localTime(buckets[0].start) : '';
  $('s-hist-to').textContent = buckets.length > 1 ? localTime(buckets[buckets.length - 1].start) : '';
  if (!buckets.length) {
    chart.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, 'No activity in this range'));
    return;
  }
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const w = W / buckets.length;
  chart.append(svg('line', { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: 'baseline' }));
  buckets.forEach((b, i) => {
    const bh = Math.max(b.count ? 1 : 0, (b.count / max) * (H - 4));
    chart.append(svg('rect', { x: i * w + w * 0.1, y: H - bh, width: Math.max(0.5, w * 0.8), height: bh, class: 'bar' },
      svg('title', {}, `${localTime(b.start)}: ${b.count}`)));
  });
}
