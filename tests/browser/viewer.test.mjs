// The log viewer in a real browser (Debian's Chromium driven by
// playwright-core) against viewer-test-server: the eight scenarios of the
// viewer issue, screenshots, and the first-rows timing (BENCH line).
//
// Run with ./run.sh (it builds the server); or, with the server built:
//   VIEWER_SERVER=../../target/debug/viewer-test-server node --test viewer.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const SERVER = process.env.VIEWER_SERVER || join(here, '../../target/debug/viewer-test-server');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTEFACTS = process.env.ARTEFACTS || join(here, 'artefacts');
const ROWS = process.env.VIEWER_ROWS || '3000';
const BULK_ROWS = process.env.VIEWER_BULK_ROWS || '100000';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let server, info, browser;

before(async () => {
  mkdirSync(ARTEFACTS, { recursive: true });
  const args = ['--rows', ROWS, '--bulk-rows', BULK_ROWS];
  if (process.env.VIEWER_DATABASE_URL) args.push('--database-url', process.env.VIEWER_DATABASE_URL);
  server = spawn(SERVER, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((_, reject) => server.once('exit', (code) => reject(new Error(`the server exited (${code})`))));
  const line = new Promise((resolve) => readline.createInterface({ input: server.stdout }).once('line', resolve));
  info = JSON.parse(await Promise.race([line, exited]));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  server?.stdin.end();
});

const tenant = (name) => info.tenants[name];
const pageUrl = (token, query = '') => `${info.ui}${query ? `?${query}` : ''}#token=${token}`;

/** The API's answer for the same filters, with the same token. */
async function api(token, path, params = {}) {
  const url = new URL(`${info.api}/${path}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `GET ${url.pathname}${url.search}`);
  return res.json();
}

async function open(token, query = '', options = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true, ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss(); });
  await page.goto(pageUrl(token, query));
  await page.waitForSelector('body[data-loaded]');
  return { page, context, problems };
}

/** The ids of the rows in the DOM, by their position in the table. */
const renderedRows = (page) => page.$$eval('#tbody tr.row', (rows) => rows.map((r) => [Number(r.dataset.index), r.dataset.id, r.querySelector('.c-desc').textContent]));

/** Scrolls the table until `count` rows have been seen, collecting them by position. */
async function scrollThrough(page, count) {
  const seen = new Map();
  let maxDom = 0;
  const deadline = Date.now() + 60_000;
  while (seen.size < count && Date.now() < deadline) {
    const rows = await renderedRows(page);
    maxDom = Math.max(maxDom, rows.length);
    for (const [i, id] of rows) {
      if (seen.has(i)) assert.equal(seen.get(i), id, `row ${i} changed while scrolling`);
      seen.set(i, id);
    }
    await page.$eval('#rows', (s) => { s.scrollTop += s.clientHeight; });
    await page.waitForTimeout(40);
  }
  return { ids: [...seen.keys()].sort((a, b) => a - b).slice(0, count).map((i) => seen.get(i)), maxDom };
}

test('1. the newest 50 rows of the token\'s tenant; scrolling loads more, without duplicates, in a bounded DOM', async () => {
  const { page, context, problems } = await open(tenant('acme').viewer);
  const first = await api(tenant('acme').viewer, 'activities', { limit: '1000' });
  const rows = await renderedRows(page);
  assert.ok(rows.length >= 15, 'a screenful of rows');
  assert.deepEqual(rows.map(([, id]) => id), first.items.slice(0, rows.length).map((a) => a.id), 'newest first, as the API');
  const { ids, maxDom } = await scrollThrough(page, 1000);
  assert.equal(ids.length, 1000, 'scrolled 1,000 rows deep');
  assert.equal(new Set(ids).size, 1000, 'no duplicates');
  assert.deepEqual(ids, first.items.map((a) => a.id), 'the same rows, in the same order, as the API');
  assert.ok(maxDom <= 80, `at most 80 rows in the DOM at once (saw ${maxDom})`);
  assert.deepEqual(problems, []);
  await context.close();
});

test('2. filtering by type and searching change the URL and match the API', async () => {
  const { page, context, problems } = await open(tenant('acme').viewer);
  await page.selectOption('#f-type', 'user_login');
  await page.waitForURL(/type=user_login/);
  await page.fill('#f-q', 'activity 12');
  await page.press('#f-q', 'Enter');
  await page.waitForURL(/q=activity\+12/);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('type'), 'user_login');
  assert.equal(url.searchParams.get('q'), 'activity 12');
  assert.ok(!url.search.includes('token'), 'the token is not in the query');
  assert.ok(url.hash.startsWith('#token=alv1_'), 'the token stays in the fragment');
  const expected = await api(tenant('acme').viewer, 'activities', { type: 'user_login', q: 'activity 12', limit: '1000' });
  assert.ok(expected.items.length > 0);
  await page.waitForFunction((n) => document.querySelectorAll('#tbody tr.row').length === n && !document.body.hasAttribute('aria-busy'), Math.min(expected.items.length, 20));
  const rows = await renderedRows(page);
  assert.deepEqual(rows.map(([, id]) => id), expected.items.slice(0, rows.length).map((a) => a.id));
  for (const [, , desc] of rows) assert.match(desc, /activity 12.*user_login/);
  // The bookmark reproduces the view.
  const again = await context.newPage();
  await again.goto(page.url());
  await again.waitForSelector('body[data-loaded]');
  assert.deepEqual((await renderedRows(again)).map(([, id]) => id), rows.map(([, id]) => id));
  assert.equal(await again.inputValue('#f-type'), 'user_login');
  assert.deepEqual(problems, []);
  await context.close();
});

test('3. the detail panel shows a before/after diff for a data change', async () => {
  const { page, context, problems } = await open(tenant('acme').viewer, 'type=record_updated');
  await page.click('#tbody tr.row >> nth=0');
  await page.waitForSelector('#detail:not([hidden])');
  const removed = await page.$$eval('#d-changes del', (els) => els.map((e) => e.textContent));
  const added = await page.$$eval('#d-changes ins', (els) => els.map((e) => e.textContent));
  assert.ok(removed.includes('- "open"'), `removed lines: ${removed}`);
  assert.ok(added.includes('+ "closed"'), `added lines: ${added}`);
  assert.ok(removed.some((l) => l.includes('"Ann"')) && added.some((l) => l.includes('"Bob"')), 'an object change diffs its changed lines');
  const kept = await page.$$eval('#d-changes span.line', (els) => els.map((e) => e.textContent));
  assert.ok(kept.some((l) => l.includes('"id"') === false && l.trim() === '{'), 'unchanged lines are kept');
  assert.match(await page.textContent('#d-metadata'), /"seq": \d+/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('4. with live tail on, an activity logged after the page opened appears within 2 s', async () => {
  const { page, context, problems } = await open(tenant('acme').viewer);
  const connected = page.waitForResponse((r) => r.url().includes('/activities/stream') && r.status() === 200);
  await page.check('#live');
  await connected;
  const description = `live activity ${Date.now()}`;
  const started = Date.now();
  const res = await fetch(`${info.api}/activities`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${tenant('acme').ingest}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ activity_type: 'call_created', description, target: { kind: 'call', id: 'live-1' } }),
  });
  assert.equal(res.status, 202);
  await page.waitForFunction((d) => [...document.querySelectorAll('#tbody tr.row .c-desc')].some((td) => td.textContent === d), description, { timeout: 2000 });
  const elapsed = Date.now() - started;
  console.log(`live tail: the new activity appeared after ${elapsed} ms`);
  assert.ok(elapsed < 2000);
  assert.equal(await page.$eval('#tbody tr.row', (r) => r.classList.contains('fresh')), true, 'highlighted');
  assert.deepEqual(problems, []);
  await context.close();
});

test('5. the CSV export downloads the expected number of rows', async () => {
  const { page, context, problems } = await open(tenant('acme').viewer, 'type=invoice_paid&outcome=success');
  const stats = await api(tenant('acme').viewer, 'activities/stats', { type: 'invoice_paid', outcome: 'success' });
  const download = page.waitForEvent('download');
  await page.click('#export-csv');
  const file = await (await download).path();
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.ok(stats.total > 100);
  assert.equal(lines.length - 1, stats.total, 'one line per activity after the header');
  assert.match(lines[0], /activity_type/);
  assert.ok(lines.slice(1).every((l) => l.includes('invoice_paid')));
  assert.deepEqual(problems, []);
  await context.close();
});

test('6. an HTML payload in the log renders as text and runs nothing', async () => {
  const { page, context, problems } = await open(tenant('acme').viewer, 'type=comment_added');
  const payload = '<img src=x onerror=alert(1)><script>alert(2)</script>';
  const first = page.locator('#tbody tr.row').first();
  assert.equal(await first.locator('.c-desc').textContent(), payload);
  assert.equal(await first.locator('.c-actor').textContent(), '<b>Mallory</b>');
  await first.click();
  await page.waitForSelector('#detail:not([hidden])');
  assert.match(await page.textContent('#d-metadata'), /<iframe src=javascript:alert\(4\)>/);
  assert.equal(await page.locator('main img, main script, main iframe, main b, #tbody svg').count(), 0, 'no element made from log data');
  await page.waitForTimeout(300);
  assert.deepEqual(problems, [], 'no dialog, no error');
  await context.close();
});

test('7. tenant B\'s token sees none of tenant A\'s rows, even with A\'s filters in the URL', async () => {
  const seen = [];
  for (const query of ['', 'actor=acme-user-1&type=call_created', 'q=acme', 'tenant=acme']) {
    const { page, context, problems } = await open(tenant('globex').viewer, query);
    page.on('response', async (r) => {
      if (r.url().includes('/activities?')) seen.push(...((await r.json().catch(() => ({}))).items || []));
    });
    const rows = await renderedRows(page);
    if (query === '' || query === 'tenant=acme') {
      // The page never sends `tenant`: the token decides.
      assert.ok(rows.length > 0);
      if (query === '') assert.equal((await scrollThrough(page, 300)).ids.length, 300);
    } else {
      assert.equal(rows.length, 0, `no rows for ${query}`);
      assert.match(await page.textContent('#status'), /No activities match/);
    }
    for (const [, , desc] of await renderedRows(page)) assert.match(desc, /^globex /);
    assert.deepEqual(problems, []);
    await context.close();
  }
  assert.ok(seen.length > 0);
  assert.ok(seen.every((a) => a.tenant === 'globex'), 'every row the page received is globex\'s');
});

test('8. keyboard alone: filter, then row, then detail', async () => {
  const { page, context, problems } = await open(tenant('acme').viewer);
  const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  const tabTo = async (id) => {
    for (let i = 0; i < 30; i++) {
      if ((await focused()) === id) return;
      await page.keyboard.press('Tab');
    }
    assert.fail(`Tab never reached #${id}`);
  };
  await tabTo('f-type');
  await page.keyboard.type('user_l');
  await page.waitForURL(/type=user_login/);
  await page.waitForFunction(() => !document.body.hasAttribute('aria-busy'));
  await tabTo('rows');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail:not([hidden])');
  assert.equal(await focused(), 'detail');
  const expected = await api(tenant('acme').viewer, 'activities', { type: 'user_login', limit: '2' });
  assert.equal(await page.textContent('#d-fields dd >> nth=0'), expected.items[1].id, 'the second row\'s detail');
  // Every control has a name a screen reader can read.
  const unnamed = await page.$$eval('input, select, button', (els) => els.filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim())).map((e) => e.id));
  assert.deepEqual(unnamed, []);
  await page.keyboard.press('Escape');
  await page.waitForSelector('#detail', { state: 'hidden' });
  assert.equal(await focused(), 'rows', 'focus returns to the table');
  assert.deepEqual(problems, []);
  await context.close();
});

test('screenshots: desktop and phone, light and dark', async () => {
  for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    for (const colorScheme of ['light', 'dark']) {
      const { page, context, problems } = await open(tenant('acme').viewer, '', { viewport, colorScheme });
      await page.waitForTimeout(400); // the stats panel
      await page.screenshot({ path: join(ARTEFACTS, `viewer-${name}-${colorScheme}.png`) });
      await page.click('#tbody tr.row >> nth=4');
      await page.waitForSelector('#detail:not([hidden])');
      await page.screenshot({ path: join(ARTEFACTS, `viewer-${name}-${colorScheme}-detail.png`) });
      assert.deepEqual(problems, []);
      await context.close();
    }
  }
});

test('BENCH: first rows visible after navigation', async () => {
  const token = info.bulk?.viewer || tenant('acme').viewer;
  const rows = info.bulk?.rows || tenant('acme').rows;
  const times = [];
  for (let i = 0; i < 5; i++) {
    const { page, context } = await open(token);
    await page.waitForSelector('#tbody tr.row');
    times.push(await page.evaluate(() => performance.getEntriesByName('viewer:first-rows')[0].startTime));
    // Let this load's statistics finish, so the next load starts on an idle server.
    await page.waitForFunction(() => document.getElementById('s-total').textContent !== '–', null, { timeout: 30_000 });
    await context.close();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`BENCH viewer_first_rows_ms=${Math.round(median)}`);
  console.log(`BENCH viewer_first_rows_store_rows=${rows + 2 * Number(ROWS)}`);
  console.log(`first rows, ms, 5 loads of a ${rows}-row tenant: ${times.map(Math.round).join(' ')}`);
  assert.ok(median < 1000, `first rows within 1 s (median ${median} ms)`);
});
