// The viewer page: wires the filters, the table, the detail and stats
// panels, the live tail and the exports together.

import { ApiError, download, getJson, token } from './api.js';
import { $ } from './dom.js';
import { FilterForm, bucketFor, fromUrl, toParams, writeUrl } from './filters.js';
import { Table } from './table.js';
import { Detail } from './detail.js';
import { showStats } from './stats.js';
import { LiveTail } from './live.js';

const PAGE = 50;

const state = {
  filters: fromUrl(),
  cursor: null,
  done: false,
  loading: false,
  abort: new AbortController(),
  firstRows: false,
  pending: [], // live activities held while the user reads further down
};

const status = $('status');
const say = (text, error = false) => { status.textContent = text; status.classList.toggle('error', error); };
const explain = (err) => (err instanceof ApiError ? err.message : 'The activity log could not be reached.');

const form = new FilterForm((f) => apply(f));
const detail = new Detail(() => $('rows').focus());
const table = new Table($('rows'), $('tbody'), { open: (a) => detail.show(a), nearEnd: () => loadMore() });
const live = new LiveTail(arrived, (s, err) => {
  if (s === 'error') say(`Live tail: ${explain(err)}`, true);
  if (s === 'lagged') say('Live tail: some activities came too fast to show; reload to see them all.');
});

function apply(filters) {
  state.filters = filters;
  writeUrl(filters, true);
  reload();
}

function reload() {
  state.abort.abort();
  state.abort = new AbortController();
  state.cursor = null;
  state.done = false;
  state.loading = false;
  state.pending = [];
  showPending();
  table.reset();
  loadMore();
  if (!$('stats').hidden && state.firstRows) loadStats();
  if ($('live').checked) live.start(toParams(state.filters, { withTime: false }));
}

async function loadMore() {
  if (state.loading || state.done) return;
  state.loading = true;
  const { signal } = state.abort;
  const params = toParams(state.filters);
  params.set('limit', String(PAGE));
  if (state.cursor) params.set('cursor', state.cursor);
  document.body.setAttribute('aria-busy', 'true');
  try {
    const page = await getJson('activities', params, signal);
    if (signal.aborted) return;
    table.append(page.items);
    state.cursor = page.next_cursor;
    state.done = !page.next_cursor;
    if (!state.firstRows) {
      state.firstRows = true;
      if (table.length) performance.mark('viewer:first-rows');
      // The statistics are heavier than a page of rows: asked for once the rows are in.
      loadTypes();
      if (!$('stats').hidden) loadStats();
    }
    say(table.length
      ? `${table.length.toLocaleString()} activities shown${state.done ? '' : '; scroll for more'}.`
      : 'No activities match these filters.');
    document.body.dataset.loaded = 'true';
  } catch (err) {
    if (signal.aborted) return;
    say(explain(err), true);
    state.done = true;
  } finally {
    if (!signal.aborted) {
      state.loading = false;
      document.body.removeAttribute('aria-busy');
    }
  }
}

async function loadStats() {
  const { signal } = state.abort;
  const params = toParams(state.filters);
  params.set('bucket', bucketFor(state.filters));
  params.set('top_actors', '5');
  try {
    const stats = await getJson('activities/stats', params, signal);
    if (signal.aborted) return;
    showStats(stats, {
      pickType: (t) => pick({ type: [t] }),
      pickActor: (a) => pick({ actor: a }),
    });
  } catch (err) {
    if (!signal.aborted) say(`Statistics: ${explain(err)}`, true);
  }
}

/** Narrows the filters from the stats panel. */
function pick(change) {
  const filters = { ...state.filters, ...change };
  form.show(filters);
  apply(filters);
}

/** The known types, for the type menu: the stats over everything visible. */
async function loadTypes() {
  try {
    const stats = await getJson('activities/stats', new URLSearchParams({ top_actors: '1', bucket: 'day' }));
    form.setTypes(Object.keys(stats.by_type || {}));
  } catch { /* the menu keeps what the URL named; the list shows the error */ }
}

function arrived(activity) {
  if (table.atTop() && !state.pending.length) table.prepend([activity]);
  else { state.pending.unshift(activity); showPending(); }
}

function showPending() {
  const button = $('new-rows');
  button.hidden = !state.pending.length;
  button.textContent = `${state.pending.length} new ${state.pending.length === 1 ? 'activity' : 'activities'} — show`;
}

function flushPending() {
  if (!state.pending.length) return;
  table.prepend(state.pending);
  state.pending = [];
  showPending();
}

async function exportAs(format) {
  say(`Preparing the ${format.toUpperCase()} export…`);
  try {
    const bytes = await download(toParams(state.filters), format);
    say(`Exported ${bytes.toLocaleString()} bytes as ${format.toUpperCase()}.`);
  } catch (err) {
    say(`Export: ${explain(err)}`, true);
  }
}

function boot() {
  if (!token()) {
    say('This page needs a viewer token in its address (…/ui#token=…); open it from your application.', true);
    for (const el of document.querySelectorAll('button, input, select')) el.disabled = true;
    state.done = true;
    return;
  }
  form.show(state.filters);
  const statsPanel = $('stats');
  const statsToggle = $('stats-toggle');
  const setStats = (open) => {
    statsPanel.hidden = !open;
    statsToggle.setAttribute('aria-expanded', String(open));
    if (open && state.firstRows) loadStats();
  };
  statsToggle.addEventListener('click', () => setStats(statsPanel.hidden));
  $('live').addEventListener('change', (e) => {
    if (e.target.checked) live.start(toParams(state.filters, { withTime: false }));
    else { live.stop(); flushPending(); say(`${table.length.toLocaleString()} activities shown.`); }
  });
  $('new-rows').addEventListener('click', () => { $('rows').scrollTop = 0; flushPending(); $('rows').focus(); });
  $('rows').addEventListener('scroll', () => { if (table.atTop()) flushPending(); });
  $('export-csv').addEventListener('click', () => exportAs('csv'));
  $('export-json').addEventListener('click', () => exportAs('json'));
  window.addEventListener('popstate', () => { state.filters = fromUrl(); form.show(state.filters); reload(); });
  window.addEventListener('hashchange', () => reload());
  setStats(matchMedia('(min-width: 1000px)').matches);
  loadMore();
}

boot();
