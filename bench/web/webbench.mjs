#!/usr/bin/env node
// bench/web/webbench.mjs: the browser half of bench/web.sh (a benchmark, not a test).
// Drives Debian's chromium through playwright-core against a running `yizhan serve` and
// writes one JSON file of raw figures; bench/web.sh turns it into the report.
//
//   node bench/web/webbench.mjs --base https://localhost:PORT --user ADDR --folder NAME
//        --out FILE [--runs 10] [--opens 5] [--chromium /usr/bin/chromium]
//   the password comes from the environment (YZ_PASS), never from the command line.
//
// 1. Sign-in: --runs fresh browser contexts (empty cache, no cookies) after one untimed
//    warm-up context. In each, /login is loaded, the form filled, and the submit clicked
//    (playwright). An init script stamps the click in the page (performance.timeOrigin +
//    performance.now(), so the stamp survives the navigation to /), and on / a
//    MutationObserver notes the first list row with a message id, clicks a row at once
//    (row i % 8 in run i, so never the message the saved UI state may already show) and notes
//    when the reader shows that message's subject. "Interactive" is that last moment. All
//    in the page: no CDP round trip is inside the figures.
// 2. The big folder: one more context signs in; every /api/v1/messages response is
//    recorded (page.on('response'): query, items, total, first id). In the page, a click on
//    the folder's button is timed until rows of the new list are in the DOM, and until two
//    animation frames later (painted); --opens times, alternating with the inbox (also
//    timed: a small folder for comparison). Then the list is scrolled to the bottom
//    (scrollTop = scrollHeight, once per frame) until the row at position total - 1 holds a
//    message; the DOM row count, the element count and the JS heap (CDP Performance
//    metrics) are read there. Last, an extra with no goal: a fresh open, then a jump to the
//    middle (scrollTop = scrollHeight / 2) until the rows there hold messages.
import { chromium } from 'playwright-core';
import fs from 'node:fs';

const args = process.argv.slice(2);
function opt(name, def) {
  const i = args.indexOf('--' + name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
}
const BASE = opt('base', 'https://localhost:10443').replace(/\/+$/, '');
const USER = opt('user', '');
const PASS = process.env.YZ_PASS || '';
const FOLDER = opt('folder', '');
const OUT = opt('out', '');
const RUNS = Number(opt('runs', '10'));
const OPENS = Number(opt('opens', '5'));
const CHROMIUM = opt('chromium', '/usr/bin/chromium');
const OVERALL_MS = Number(opt('timeout', '600')) * 1000;
const STEP_MS = 20000;
const VIEWPORT = { width: 1366, height: 860 };
const T0 = Date.now();

let browser = null;
let finished = false;
const log = (m) => process.stderr.write('[webbench ' + ((Date.now() - T0) / 1000).toFixed(1) + ' s] ' + m + '\n');

async function closeBrowser() {
  if (!browser) return;
  const b = browser;
  browser = null;
  await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
}
async function bail(message, code = 1) {
  if (finished) return;
  finished = true;
  process.stderr.write('webbench: FAIL: ' + message + '\n');
  if (OUT && result) {
    result.error = message;
    fs.writeFileSync(OUT, JSON.stringify(result, null, 1));
  }
  await closeBrowser();
  process.exit(code);
}
const overall = setTimeout(() => bail('overall timeout of ' + OVERALL_MS / 1000 + ' s exceeded'), OVERALL_MS);
process.on('unhandledRejection', (e) => bail('unhandled rejection: ' + (e && e.stack ? e.stack : e)));
process.on('SIGINT', () => bail('interrupted', 130));
process.on('SIGTERM', () => bail('terminated', 143));

// Runs in every document of a sign-in context (see 1. above).
function signinProbe() {
  const now = () => performance.timeOrigin + performance.now();
  const read = () => {
    try {
      return JSON.parse(sessionStorage.getItem('yzb') || 'null');
    } catch (e) {
      return null;
    }
  };
  if (location.pathname === '/login') {
    const stamp = (e) => {
      if (e.type === 'click' && !(e.target && e.target.closest && e.target.closest('#login-submit'))) return;
      const st = read() || {};
      if (st.t0 == null) {
        st.t0 = now();
        sessionStorage.setItem('yzb', JSON.stringify(st));
      }
    };
    document.addEventListener('click', stamp, true);
    document.addEventListener('submit', stamp, true);
    return;
  }
  if (location.pathname !== '/') return;
  const st = read();
  if (!st || st.t0 == null) return;
  sessionStorage.removeItem('yzb');
  const R = (window.__yzb = { t0: st.t0, nav: performance.timeOrigin });
  let target = null;
  let mo = null;
  const check = () => {
    if (R.done) return;
    if (!R.rows) {
      const rows = document.querySelectorAll('.vlist .row[data-id]');
      if (rows.length) {
        R.rows = now();
        R.nrows = rows.length;
        const el = rows[Math.min(st.idx || 0, rows.length - 1)];
        target = el.dataset.id;
        R.id = Number(target);
        R.title = (document.getElementById('list-title') || {}).textContent || '';
        el.click();
        R.clicked = now();
      }
    }
    if (target && document.querySelector('.reader[data-id="' + target + '"] .mail-subject')) {
      R.open = now();
      mo.disconnect();
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          R.painted = now();
          const nav = performance.getEntriesByType('navigation')[0];
          R.dcl = nav ? nav.domContentLoadedEventEnd : null;
          R.resources = performance.getEntriesByType('resource').map((e) => ({
            name: e.name.replace(location.origin, ''),
            start: Math.round(e.startTime * 10) / 10,
            end: Math.round(e.responseEnd * 10) / 10,
            bytes: e.encodedBodySize,
          }));
          R.done = true;
        })
      );
    }
  };
  mo = new MutationObserver(check);
  mo.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-id', 'class'] });
}

async function newContext() {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: VIEWPORT, locale: 'zh-CN' });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  const host = new URL(BASE).hostname;
  const sink = { remote: [], errors: [] };
  // nothing leaves this machine: any other host is refused and counted
  await context.route(
    (u) => u.hostname !== host && (u.protocol === 'http:' || u.protocol === 'https:'),
    (route) => {
      sink.remote.push(route.request().url());
      route.abort();
    }
  );
  const page = await context.newPage();
  page.on('pageerror', (e) => sink.errors.push(String(e && e.message ? e.message : e)));
  return { context, page, sink };
}

async function fillLogin(page) {
  const t = Date.now();
  await page.goto(BASE + '/login', { waitUntil: 'load' });
  await page.waitForFunction(() => !document.getElementById('login-submit').disabled);
  const ready = Date.now() - t;
  await page.fill('#address', USER);
  await page.fill('#password', PASS);
  return ready;
}

async function signinRun(i) {
  const { context, page, sink } = await newContext();
  try {
    await context.addInitScript(signinProbe);
    const reqs = [];
    page.on('request', (r) => reqs.push(r.url().replace(BASE, '')));
    const loginReady = await fillLogin(page);
    await page.evaluate((idx) => sessionStorage.setItem('yzb', JSON.stringify({ idx })), i % 8);
    const n0 = reqs.length;
    await page.click('#login-submit');
    await page.waitForURL((u) => u.pathname === '/', { timeout: STEP_MS });
    await page.waitForFunction(() => window.__yzb && window.__yzb.done, null, { timeout: STEP_MS, polling: 50 });
    const R = await page.evaluate(() => window.__yzb);
    const ok = await page.locator('.reader[data-id="' + R.id + '"] .mail-subject').count();
    if (!ok) throw new Error('run ' + i + ': the reader did not show message ' + R.id);
    if (sink.errors.length) throw new Error('run ' + i + ': script error: ' + sink.errors.join(' | '));
    const r = {
      run: i,
      login_page_ready_ms: loginReady,
      scram_ms: R.nav - R.t0, // click -> navigation to / starts (SCRAM steps 1 + 2, PBKDF2)
      dcl_ms: R.nav + R.dcl - R.t0, // ... -> DOMContentLoaded of / (app.js parsed and run)
      rows_ms: R.rows - R.t0, // ... -> first list row with a message in the DOM
      open_ms: R.open - R.t0, // ... -> the clicked row's subject in the reader (interactive)
      painted_ms: R.painted - R.t0, // ... -> two frames later
      click_to_open_ms: R.open - R.clicked,
      rows_in_dom: R.nrows,
      list_title: R.title,
      requests: reqs.length - n0,
      request_paths: reqs.slice(n0).map((u) => u.split('?')[0]),
      resources: R.resources,
      remote: sink.remote.length,
    };
    return r;
  } finally {
    await context.close().catch(() => {});
  }
}

function pct(v, p) {
  const s = v.slice().sort((a, b) => a - b);
  const k = Math.max(1, Math.ceil((s.length * p) / 100));
  return s[k - 1];
}
const stats = (v) => ({ n: v.length, min: Math.min(...v), p50: pct(v, 50), p95: pct(v, 95), max: Math.max(...v) });

// In the page: click a folder's button; resolve when rows of the new list are in the DOM
// (ids that the old list did not show) and two frames later.
function timeOpen({ sel, timeout }) {
  const old = new Set(Array.from(document.querySelectorAll('.vlist .row[data-id]')).map((r) => r.dataset.id));
  const btn = document.querySelector(sel);
  if (!btn) return Promise.resolve({ error: 'no ' + sel });
  return new Promise((resolve) => {
    let t0 = 0;
    let done = false;
    let mo = null;
    const fresh = () => Array.from(document.querySelectorAll('.vlist .row[data-id]')).filter((r) => !old.has(r.dataset.id));
    const check = () => {
      if (done) return;
      const rows = fresh();
      if (!rows.length) return;
      done = true;
      mo.disconnect();
      const dom = performance.now() - t0;
      requestAnimationFrame(() =>
        requestAnimationFrame(() => resolve({ dom_ms: dom, painted_ms: performance.now() - t0, rows: fresh().length }))
      );
    };
    mo = new MutationObserver(check);
    mo.observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-id'] });
    setTimeout(() => {
      if (!done) {
        done = true;
        mo.disconnect();
        resolve({ error: 'timeout' });
      }
    }, timeout);
    t0 = performance.now();
    btn.click();
    check();
  });
}

// In the page: scroll the list to the bottom once per frame until position `last` holds a
// message (or to the middle, once, when mid is set).
async function scrollUntil({ last, mid, timeout }) {
  const el = document.querySelector('.vlist');
  const raf = () => new Promise((r) => requestAnimationFrame(r));
  const t0 = performance.now();
  let iters = 0;
  let target = last;
  while (performance.now() - t0 < timeout) {
    if (mid) {
      if (iters === 0) {
        el.scrollTop = Math.floor(el.scrollHeight / 2);
        target = Math.floor(el.scrollTop / 76) + 2;
      }
    } else {
      el.scrollTop = el.scrollHeight;
    }
    iters++;
    await raf();
    const row = document.querySelector('.vlist .row[data-index="' + target + '"][data-id]');
    if (row) {
      const dom = performance.now() - t0;
      await raf();
      await raf();
      return {
        dom_ms: dom,
        painted_ms: performance.now() - t0,
        iterations: iters,
        target_index: target,
        target_id: Number(row.dataset.id),
        scroll_top: el.scrollTop,
        scroll_height: el.scrollHeight,
        rows_in_dom: document.querySelectorAll('.vlist .row').length,
        rows_with_id: document.querySelectorAll('.vlist .row[data-id]').length,
        elements: document.getElementsByTagName('*').length,
      };
    }
  }
  return { error: 'timeout', iterations: iters, target_index: target };
}

async function metrics(cdp) {
  const m = await cdp.send('Performance.getMetrics');
  const o = {};
  for (const x of m.metrics) o[x.name] = x.value;
  return { js_heap_used_bytes: o.JSHeapUsedSize, dom_nodes: o.Nodes, documents: o.Documents, layout_count: o.LayoutCount };
}

async function bigFolder() {
  const { context, page, sink } = await newContext();
  try {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    await fillLogin(page);
    await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('#login-submit')]);
    await page.waitForSelector('.folder[data-role="inbox"]', { state: 'attached' });
    await page.waitForSelector('.vlist .row[data-id]', { state: 'attached' });
    const folder = page.locator('.folder[data-name="' + FOLDER + '"]').first();
    await folder.waitFor({ state: 'attached' });
    const fid = await folder.getAttribute('data-folder');
    const inboxId = await page.locator('.folder[data-role="inbox"]').first().getAttribute('data-folder');
    const bigSel = '.folder[data-folder="' + fid + '"] .folder-btn';
    const inboxSel = '.folder[data-folder="' + inboxId + '"] .folder-btn';
    await page.waitForTimeout(1500); // the saved UI state and counters settle

    const responses = [];
    const pending = [];
    let phase = 'open';
    page.on('response', (resp) => {
      const u = new URL(resp.url());
      if (u.pathname !== '/api/v1/messages') return;
      const q = u.searchParams;
      const rec = {
        phase,
        folder: q.get('folder'),
        limit: Number(q.get('limit')),
        order: q.get('order'),
        sort: q.get('sort'),
        cursor: !!q.get('cursor'),
        at: q.get('at'),
        status: resp.status(),
      };
      responses.push(rec);
      pending.push(
        resp
          .json()
          .then((j) => {
            rec.items = (j.items || []).length;
            rec.total = j.total;
            rec.first_id = j.items && j.items.length ? j.items[0].id : null;
            rec.has_next = !!j.next;
          })
          .catch(() => {
            rec.items = 0;
          })
      );
      const timing = resp.request().timing();
      rec.ttfb_ms = timing.responseStart >= 0 && timing.requestStart >= 0 ? timing.responseStart - timing.requestStart : null;
    });

    const opens = [];
    const inboxOpens = [];
    for (let k = 0; k < OPENS; k++) {
      const r = await page.evaluate(timeOpen, { sel: bigSel, timeout: STEP_MS });
      if (r.error) throw new Error('opening the big folder: ' + r.error);
      opens.push(r);
      log('open ' + (k + 1) + ': first rows ' + r.dom_ms.toFixed(1) + ' ms in the DOM, ' + r.painted_ms.toFixed(1) + ' ms painted');
      await page.waitForTimeout(1200);
      if (k < OPENS - 1) {
        const b = await page.evaluate(timeOpen, { sel: inboxSel, timeout: STEP_MS });
        if (b.error) throw new Error('opening the inbox: ' + b.error);
        inboxOpens.push(b);
        await page.waitForTimeout(1200);
      }
    }
    await Promise.all(pending);
    const first = responses.find((r) => r.folder === fid && r.total != null);
    const total = first ? first.total : -1;
    if (total <= 0) throw new Error('no total for folder ' + fid);
    const before = await metrics(cdp);

    phase = 'scroll';
    const sc = await page.evaluate(scrollUntil, { last: total - 1, mid: false, timeout: 60000 });
    if (sc.error) throw new Error('scrolling to the end: ' + sc.error + ' after ' + sc.iterations + ' frames');
    await page.waitForTimeout(1000); // anything the scroll set off has answered
    await Promise.all(pending);
    const after = await metrics(cdp);
    phase = 'check';
    // the last row must be the folder's oldest message: ask the server directly
    const oldest = await page.evaluate(async (f) => {
      const r = await fetch('/api/v1/messages?folder=' + f + '&limit=1&sort=date&order=asc', { credentials: 'same-origin' });
      const j = await r.json();
      return j.items && j.items.length ? j.items[0].id : null;
    }, fid);
    log('scrolled to the end in ' + sc.dom_ms.toFixed(1) + ' ms (' + sc.iterations + ' frames), ' + sc.rows_in_dom + ' rows in the DOM');

    // extra: a fresh open, then a jump to the middle
    phase = 'reopen';
    let middle = null;
    const b = await page.evaluate(timeOpen, { sel: inboxSel, timeout: STEP_MS });
    if (!b.error) {
      await page.waitForTimeout(1200);
      const o = await page.evaluate(timeOpen, { sel: bigSel, timeout: STEP_MS });
      if (!o.error) {
        await page.waitForTimeout(1200);
        await Promise.all(pending);
        phase = 'middle';
        middle = await page.evaluate(scrollUntil, { last: 0, mid: true, timeout: 90000 });
        await page.waitForTimeout(1000);
        await Promise.all(pending);
        middle.metrics = await metrics(cdp);
        log('jump to the middle: ' + (middle.error ? middle.error : middle.dom_ms.toFixed(0) + ' ms'));
      }
    }
    await Promise.all(pending);
    const big = responses.filter((r) => r.folder === fid);
    const sum = (v) => v.reduce((a, r) => a + (r.items || 0), 0);
    const byPhase = (p) => big.filter((r) => r.phase === p);
    return {
      folder_id: Number(fid),
      total,
      opens,
      open_painted: stats(opens.map((r) => r.painted_ms)),
      open_dom: stats(opens.map((r) => r.dom_ms)),
      inbox_opens: inboxOpens,
      inbox_open_painted: inboxOpens.length ? stats(inboxOpens.map((r) => r.painted_ms)) : null,
      open_requests_per_open: byPhase('open').length / OPENS,
      open_items_per_open: sum(byPhase('open')) / OPENS,
      scroll: sc,
      scroll_requests: byPhase('scroll').length,
      scroll_items: sum(byPhase('scroll')),
      last_row_is_oldest: oldest != null && oldest === sc.target_id,
      oldest_id: oldest,
      metrics_before_scroll: before,
      metrics_after_scroll: after,
      middle,
      middle_requests: byPhase('middle').length,
      middle_items: sum(byPhase('middle')),
      requests_total: big.length,
      items_total: sum(big),
      requests_until_end: big.filter((r) => r.phase === 'open' || r.phase === 'scroll').length,
      items_until_end: sum(big.filter((r) => r.phase === 'open' || r.phase === 'scroll')),
      first_page_ttfb_ms: stats(big.filter((r) => r.phase === 'open' && r.ttfb_ms != null).map((r) => r.ttfb_ms)),
      responses: big,
      errors: sink.errors,
      remote: sink.remote.length,
    };
  } finally {
    await context.close().catch(() => {});
  }
}

let result = null;
async function main() {
  if (!USER || !PASS || !FOLDER || !OUT) throw new Error('--user, --folder, --out and YZ_PASS are needed');
  result = { base: BASE, runs: RUNS, opens: OPENS, viewport: VIEWPORT };
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP localhost 127.0.0.1'],
    timeout: STEP_MS,
  });
  result.chromium = browser.version();
  log('chromium ' + result.chromium);
  result.warmup = await signinRun(RUNS);
  log('warm-up sign-in: interactive after ' + result.warmup.open_ms.toFixed(0) + ' ms');
  result.signin = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await signinRun(i);
    result.signin.push(r);
    log('sign-in ' + (i + 1) + '/' + RUNS + ': rows ' + r.rows_ms.toFixed(0) + ' ms, interactive ' + r.open_ms.toFixed(0) + ' ms');
  }
  for (const k of ['scram_ms', 'dcl_ms', 'rows_ms', 'open_ms', 'painted_ms', 'click_to_open_ms', 'login_page_ready_ms'])
    result['signin_' + k] = stats(result.signin.map((r) => r[k]));
  result.big = await bigFolder();
  fs.writeFileSync(OUT, JSON.stringify(result, null, 1));
  finished = true;
  clearTimeout(overall);
  await closeBrowser();
}

main().catch((e) => bail(e && e.stack ? e.stack : String(e)));
