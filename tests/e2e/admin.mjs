#!/usr/bin/env node
// End-to-end test of the admin path, driven through Debian's chromium with playwright-core:
// an auditor's first sign-in enrols TOTP (secret read off the page, code computed here per
// RFC 6238), the audit-log viewer at /admin (records, type filter, CSV export), sign-out, a
// second sign-in with the TOTP step (wrong code refused, a used code refused as a replay,
// the right code accepted), and a plain user sent from /admin back to /.
//
// Env: YZ_BASE (default https://localhost:10443),
//      YZ_AUDITOR, YZ_AUDITOR_PASS, YZ_AUDITOR_NAME (the auditor account),
//      YZ_USER, YZ_PASS (a plain user account, which already has one failed and one good
//      sign-in in the audit log),
//      YZ_ARTIFACTS (directory for screenshots and the export; default tests/e2e/artifacts),
//      YZ_CHROMIUM (default /usr/bin/chromium), YZ_TIMING=1 (seconds since start on each line).
// Prints "ok <step>" per step; exits 1 with a message on the first failure.
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE = (process.env.YZ_BASE || 'https://localhost:10443').replace(/\/+$/, '');
const AUDITOR = process.env.YZ_AUDITOR || '';
const AUDITOR_PASS = process.env.YZ_AUDITOR_PASS || '';
const AUDITOR_NAME = process.env.YZ_AUDITOR_NAME || '';
const USER = process.env.YZ_USER || '';
const PASS = process.env.YZ_PASS || '';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = process.env.YZ_ARTIFACTS || path.join(HERE, 'artifacts');
const CHROMIUM = process.env.YZ_CHROMIUM || '/usr/bin/chromium';
const OVERALL_MS = 120_000;
const STEP_MS = 15_000;
const TOTP_STEP = 30;
const REPLAY_WAIT_MAX_MS = 35_000;

const ROLE_AUDITOR_ZH = '审计管理员';
const CSV_HEADER = 'id,time,actor,type,ip,client,detail,hash';

const T0 = Date.now();
let browser = null;
let finished = false;

function ok(step) {
  console.log('ok ' + step + (process.env.YZ_TIMING ? ' [' + ((Date.now() - T0) / 1000).toFixed(1) + ' s]' : ''));
}

class TestFailure extends Error {}

function fail(message) {
  throw new TestFailure(message);
}

function check(cond, message) {
  if (!cond) fail(message);
}

async function closeBrowser() {
  if (!browser) return;
  const b = browser;
  browser = null;
  await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
}

async function bail(message, code = 1) {
  if (finished) return;
  finished = true;
  console.error('FAIL: ' + message);
  await closeBrowser();
  process.exit(code);
}

const overall = setTimeout(() => bail('overall timeout of ' + OVERALL_MS / 1000 + ' s exceeded'), OVERALL_MS);
process.on('unhandledRejection', (e) => bail('unhandled rejection: ' + (e && e.stack ? e.stack : e)));
process.on('SIGINT', () => bail('interrupted', 130));
process.on('SIGTERM', () => bail('terminated', 143));

// ---- TOTP (RFC 6238 over RFC 4226), base32 per RFC 4648 -------------------------------------

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const s = text.replace(/[\s=-]/g, '').toUpperCase();
  const out = [];
  let bits = 0;
  let value = 0;
  for (const ch of s) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new TestFailure('secret is not base32: ' + JSON.stringify(text));
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = crypto.createHmac('sha1', key).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(off) & 0x7fffffff;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

const stepAt = (ms) => Math.floor(ms / 1000 / TOTP_STEP);
const nowStep = () => stepAt(Date.now());

// A code that is valid for none of the steps within +-3 of now.
function wrongCode(key) {
  const s = nowStep();
  const valid = new Set();
  for (let k = -3; k <= 3; k++) valid.add(hotp(key, s + k));
  let c = parseInt(hotp(key, s), 10);
  for (;;) {
    c = (c + 137911) % 1000000;
    const code = String(c).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

// RFC 4180 CSV -> array of records (arrays of fields); a trailing line break ends the last one.
function parseCsv(text) {
  const records = [];
  let rec = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      rec.push(field);
      field = '';
      i++;
    } else if (c === '\r' || c === '\n') {
      rec.push(field);
      records.push(rec);
      rec = [];
      field = '';
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += c;
      i++;
    }
  }
  check(!quoted, 'CSV ends inside a quoted field');
  if (field !== '' || rec.length) {
    rec.push(field);
    records.push(rec);
  }
  return records;
}

// ---- helpers ----------------------------------------------------------------------------------

function watch(page, label, sink) {
  page.on('console', (m) => {
    const text = m.text();
    if (text.indexOf('Content Security Policy') >= 0) sink.csp.push(label + ': ' + text);
  });
  page.on('pageerror', (e) => sink.errors.push(label + ': ' + String(e && e.message ? e.message : e)));
}

async function newPage(sink, label) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
    locale: 'zh-CN',
    acceptDownloads: true,
  });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  const page = await context.newPage();
  watch(page, label, sink);
  return page;
}

const pathnameOf = (page) => new URL(page.url()).pathname;

// Fill in the password form and submit it. Returns once the click has been dispatched.
async function submitPassword(page, address, password) {
  if (pathnameOf(page) !== '/login') await page.goto(BASE + '/login', { waitUntil: 'load' });
  await page.waitForSelector('#login-form:not([hidden])');
  await page.waitForFunction(() => !document.getElementById('login-submit').disabled);
  await page.fill('#address', address);
  await page.fill('#password', password);
  await page.click('#login-submit');
}

// The sign-in page's message line, for failure reports; '' when the page has moved on.
async function loginMsg(page) {
  const text = await page
    .evaluate(() => {
      const el = document.getElementById('login-msg');
      return el ? el.textContent : '';
    })
    .catch(() => '');
  return (text || '').trim();
}

// Type a code into a second-factor form and submit; resolves with the HTTP status the
// server gave for the code.
async function submitCode(page, input, button, url, code) {
  await page.fill(input, code);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === url && r.request().method() === 'POST'),
    page.click(button),
  ]);
  return resp.status();
}

async function waitForAdmin(page, what) {
  await page.waitForURL((u) => u.pathname === '/admin', { waitUntil: 'load' }).catch(async (e) => {
    throw new TestFailure(what + ' did not reach /admin: ' + ((await loginMsg(page)) || e.message) + ' (at ' + page.url() + ')');
  });
}

// Expect the visible error in #login-msg to be the page's own message `attr`.
async function expectLoginError(page, attr, what) {
  const expected = await page.getAttribute('#login', attr);
  check(expected, 'the sign-in page has no ' + attr);
  await page
    .waitForFunction(
      (want) => {
        const el = document.getElementById('login-msg');
        return el && el.classList.contains('msg-error') && el.textContent.trim() === want;
      },
      expected,
      { timeout: 5000 }
    )
    .catch(async () => {
      throw new TestFailure(what + ': message is "' + (await loginMsg(page)) + '", expected "' + expected + '"');
    });
  check(pathnameOf(page) === '/login', what + ' left /login: ' + page.url());
  return expected;
}

// Rows of the audit table as {actor, type}; null while the viewer is loading.
async function auditRows(page) {
  return page.evaluate(() => {
    const foot = document.querySelector('.audit .list-foot');
    const busy = document.querySelector('.audit .filters button[type=submit]');
    if (!foot || !busy || busy.disabled) return null;
    return Array.from(document.querySelectorAll('table.audit-table tbody tr')).map((tr) => {
      const tds = tr.querySelectorAll('td');
      const tag = tds[2] && tds[2].querySelector('span[title]');
      return {
        actor: (tds[1] && tds[1].textContent.trim()) || '',
        type: (tag && tag.getAttribute('title')) || '',
      };
    });
  });
}

async function waitForRows(page, pred, what) {
  let last = null;
  const deadline = Date.now() + STEP_MS;
  while (Date.now() < deadline) {
    last = await auditRows(page);
    if (last && pred(last)) return last;
    await page.waitForTimeout(100);
  }
  const err = await page.locator('.audit .msg-error').innerText({ timeout: 1000 }).catch(() => '');
  throw new TestFailure(what + (err ? ' (viewer says: ' + err + ')' : '') + '; rows: ' + JSON.stringify(last));
}

const has = (rows, actor, type) => rows.some((r) => r.actor === actor && r.type === type);

// ---- the test ---------------------------------------------------------------------------------

async function run() {
  check(AUDITOR && AUDITOR_PASS && AUDITOR_NAME && USER && PASS,
    'YZ_AUDITOR, YZ_AUDITOR_PASS, YZ_AUDITOR_NAME, YZ_USER and YZ_PASS must be set');
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: STEP_MS,
  });
  ok('launch chromium');

  const sink = { csp: [], errors: [] };
  const assertClean = async (page, where) => {
    await page.waitForTimeout(200); // let late console messages arrive
    check(sink.csp.length === 0, 'CSP violation (' + where + '): ' + sink.csp.join(' | '));
    check(sink.errors.length === 0, 'script error (' + where + '): ' + sink.errors.join(' | '));
  };

  // 1. first sign-in of the auditor: the password step leads to TOTP enrolment
  const page = await newPage(sink, 'auditor');
  const resp = await page.goto(BASE + '/login', { waitUntil: 'load' });
  check(resp && resp.status() === 200, 'GET /login answered ' + (resp && resp.status()));
  await submitPassword(page, AUDITOR, AUDITOR_PASS);
  await page.waitForSelector('#enrol-form:not([hidden])').catch(async (e) => {
    throw new TestFailure('no TOTP enrolment step after the first sign-in: "' + (await loginMsg(page)) + '" ' + e.message);
  });
  check(await page.isHidden('#login-form'), 'password form still shown on the enrolment step');
  check(await page.isHidden('#totp-form'), 'TOTP form shown on the enrolment step');
  await page.waitForSelector('#enrol-qr svg path');
  await page.waitForFunction(() => document.getElementById('enrol-secret').textContent.trim().length >= 16);
  const shownSecret = (await page.locator('#enrol-secret').innerText()).trim();
  check(/^[A-Z2-7 ]+$/.test(shownSecret), 'enrolment secret is not base32: ' + JSON.stringify(shownSecret));
  const key = base32Decode(shownSecret);
  check(key.length >= 10, 'enrolment secret too short: ' + key.length + ' bytes');
  await assertClean(page, 'enrolment step');
  await page.screenshot({ path: path.join(ARTIFACTS, 'enrol.png'), fullPage: true });
  ok('enrolment step shown (QR code, ' + key.length * 8 + '-bit secret)');

  // 2. confirm with the current code -> /admin
  const enrolMs = Date.now();
  const enrolStep = stepAt(enrolMs);
  const enrolStatus = await submitCode(page, '#enrol-code', '#enrol-submit', '/api/v1/totp/confirm', hotp(key, enrolStep));
  if (enrolStatus !== 200) fail('TOTP confirm answered ' + enrolStatus + ': ' + (await loginMsg(page)));
  await waitForAdmin(page, 'TOTP enrolment');
  ok('TOTP enrolled, at /admin');

  // 3. the admin console: role name, identity, audit records
  await page.waitForFunction(
    (want) => {
      const el = document.getElementById('role-name');
      return el && el.textContent.trim() === want;
    },
    ROLE_AUDITOR_ZH
  ).catch(async () => {
    const got = await page.locator('#role-name').innerText({ timeout: 1000 }).catch(() => '(none)');
    throw new TestFailure('role name is "' + got + '", expected "' + ROLE_AUDITOR_ZH + '"');
  });
  const shownName = (await page.locator('[data-testid="user-name"]').innerText()).trim();
  check(shownName === AUDITOR_NAME, 'header shows "' + shownName + '", expected "' + AUDITOR_NAME + '"');
  ok('role shown: ' + ROLE_AUDITOR_ZH + ' (' + shownName + ')');

  const all = await waitForRows(
    page,
    (rows) => has(rows, USER, 'auth.login.fail') && has(rows, USER, 'auth.login.ok') && has(rows, AUDITOR, 'auth.totp.enrol'),
    'audit table lacks auth.login.fail / auth.login.ok for ' + USER + ' or auth.totp.enrol for ' + AUDITOR
  );
  await assertClean(page, '/admin');
  await page.screenshot({ path: path.join(ARTIFACTS, 'admin-audit.png'), fullPage: true });
  ok('audit table lists ' + all.length + ' records incl. auth.login.fail, auth.login.ok, auth.totp.enrol');

  // 4. filter by type
  const FILTER = 'auth.login.fail';
  const expectFiltered = all.filter((r) => r.type === FILTER).length;
  await page.fill('.audit .filters input[name="type"]', FILTER);
  await Promise.all([
    page.waitForResponse((r) => {
      const u = new URL(r.url());
      return u.pathname === '/api/v1/audit' && u.searchParams.get('type') === FILTER;
    }),
    page.click('.audit .filters button[type="submit"]'),
  ]);
  const filtered = await waitForRows(
    page,
    (rows) => rows.length > 0 && rows.every((r) => r.type === FILTER),
    'type filter ' + FILTER + ' did not narrow the rows to that type'
  );
  check(filtered.length === expectFiltered,
    'type filter shows ' + filtered.length + ' rows, the unfiltered table had ' + expectFiltered);
  check(has(filtered, USER, FILTER), 'filtered table lacks the failed sign-in of ' + USER);
  const href = await page.getAttribute('#audit-export-csv', 'href');
  check(href && href.indexOf('type=' + encodeURIComponent(FILTER)) >= 0, 'CSV export link ignores the filter: ' + href);
  ok('type filter ' + FILTER + ': ' + all.length + ' -> ' + filtered.length + ' rows');

  // 5. CSV export (of the filtered view) downloads
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#audit-export-csv')]);
  const failure = await download.failure();
  check(!failure, 'CSV download failed: ' + failure);
  const csvPath = path.join(ARTIFACTS, 'audit-export.csv');
  await download.saveAs(csvPath);
  const csv = fs.readFileSync(csvPath, 'utf8').replace(/^\uFEFF/, '');
  const firstLine = csv.split(/\r?\n/, 1)[0];
  check(firstLine === CSV_HEADER, 'CSV first line is ' + JSON.stringify(firstLine) + ', expected ' + JSON.stringify(CSV_HEADER));
  check(csv.indexOf(USER) >= 0, 'CSV export does not mention ' + USER);
  const records = parseCsv(csv);
  const cols = records[0];
  const body = records.slice(1);
  check(body.every((r) => r.length === cols.length), 'CSV rows with a wrong number of fields');
  check(body.length === filtered.length, 'CSV has ' + body.length + ' records, the filtered table ' + filtered.length);
  const typeCol = cols.indexOf('type');
  const actorCol = cols.indexOf('actor');
  check(body.every((r) => r[typeCol] === FILTER), 'CSV export holds records of other types than ' + FILTER);
  check(body.some((r) => r[actorCol] === USER), 'CSV export has no record with actor ' + USER);
  check(/\.csv$/.test(download.suggestedFilename()), 'download name ' + download.suggestedFilename());
  await assertClean(page, '/admin (filter, export)');
  ok('CSV export downloaded (' + download.suggestedFilename() + ', ' + body.length + ' records)');

  // 6. sign out
  await Promise.all([page.waitForURL((u) => u.pathname === '/login', { waitUntil: 'load' }), page.click('#sign-out')]);
  const me = await page.evaluate(async () => (await fetch('/api/v1/me', { cache: 'no-store' })).status);
  check(me === 401, 'session still valid after sign-out: /api/v1/me answered ' + me);
  ok('signed out, at /login');

  // 7. second sign-in: the TOTP step, not enrolment
  await submitPassword(page, AUDITOR, AUDITOR_PASS);
  await page.waitForSelector('#totp-form:not([hidden])').catch(async (e) => {
    throw new TestFailure('no TOTP step after the second sign-in: "' + (await loginMsg(page)) + '" ' + e.message);
  });
  check(await page.isHidden('#enrol-form'), 'enrolment shown again after TOTP was enrolled');
  check(await page.isHidden('#login-form'), 'password form still shown on the TOTP step');
  ok('TOTP step shown (no enrolment)');

  // 8. a wrong code is refused with the message
  const wrongStatus = await submitCode(page, '#totp-code', '#totp-submit', '/api/v1/session/totp', wrongCode(key));
  check(wrongStatus === 401, 'wrong TOTP code answered ' + wrongStatus);
  const wrongMsg = await expectLoginError(page, 'data-msg-totp-invalid', 'wrong TOTP code');
  check(await page.isVisible('#totp-form'), 'TOTP form gone after a wrong code');
  await assertClean(page, 'TOTP step (wrong code)');
  ok('wrong TOTP code rejected: ' + wrongMsg);

  // 9. the right code: the code of the current step; if that is the step the enrolment used,
  //    the server must refuse it as a replay, and the next step's code is used instead
  let step = nowStep();
  let status = await submitCode(page, '#totp-code', '#totp-submit', '/api/v1/session/totp', hotp(key, step));
  if (status !== 200 && step <= enrolStep) {
    check(status === 401, 'replayed TOTP code answered ' + status);
    await expectLoginError(page, 'data-msg-totp-invalid', 'replayed TOTP code');
    ok('replayed TOTP code (step of the enrolment) rejected');
    const until = (enrolStep + 1) * TOTP_STEP * 1000 + 300;
    const wait = until - Date.now();
    check(wait <= REPLAY_WAIT_MAX_MS, 'would wait ' + wait + ' ms for the next TOTP step');
    if (wait > 0) await page.waitForTimeout(wait);
    step = nowStep();
    check(step > enrolStep, 'TOTP step did not advance');
    status = await submitCode(page, '#totp-code', '#totp-submit', '/api/v1/session/totp', hotp(key, step));
    ok('waited ' + Math.max(0, Math.round(wait / 1000)) + ' s for the next TOTP step');
  } else if (status === 200) {
    check(step > enrolStep, 'the server accepted the code of the step the enrolment already used (replay)');
  }
  if (status !== 200) {
    fail('right TOTP code (step ' + step + ', enrolment step ' + enrolStep + ') answered ' + status + ': ' + (await loginMsg(page)));
  }
  await waitForAdmin(page, 'TOTP sign-in');
  await page.waitForFunction((want) => {
    const el = document.getElementById('role-name');
    return el && el.textContent.trim() === want;
  }, ROLE_AUDITOR_ZH);
  await waitForRows(page, (rows) => has(rows, AUDITOR, 'auth.totp.fail'), 'audit table lacks the auditor\'s auth.totp.fail');
  await assertClean(page, '/admin (second sign-in)');
  ok('signed in again with TOTP, at /admin');
  await page.context().close();

  // 10. a plain user is sent from /admin to /
  const upage = await newPage(sink, 'user');
  await upage.goto(BASE + '/login', { waitUntil: 'load' });
  await Promise.all([
    upage.waitForURL((u) => u.pathname === '/', { waitUntil: 'load' }).catch(async (e) => {
      throw new TestFailure('user sign-in did not reach /: ' + ((await loginMsg(upage)) || e.message) + ' (at ' + upage.url() + ')');
    }),
    submitPassword(upage, USER, PASS),
  ]);
  const ur = await upage.goto(BASE + '/admin', { waitUntil: 'load' });
  check(ur && ur.status() === 200, 'GET /admin as a user ended with ' + (ur && ur.status()));
  check(pathnameOf(upage) === '/', 'a user at /admin ended up on ' + upage.url() + ', expected /');
  await upage.waitForSelector('[data-testid="user-name"]');
  const view = await upage.getAttribute('#app', 'data-view');
  check(view === 'mail', 'a user at /admin got view ' + view);
  check((await upage.locator('#role-name').count()) === 0, 'a user at /admin sees the admin console');
  check((await upage.locator('table.audit-table').count()) === 0, 'a user at /admin sees the audit log');
  const auditStatus = await upage.evaluate(async () => (await fetch('/api/v1/audit', { cache: 'no-store' })).status);
  check(auditStatus === 403, 'a user reading /api/v1/audit got ' + auditStatus);
  await assertClean(upage, '/ (user)');
  ok('user at /admin ended up on / (audit API -> 403)');
  await upage.context().close();
}

try {
  await run();
  clearTimeout(overall);
  await closeBrowser();
  finished = true;
  console.log('ok all (screenshots in ' + ARTIFACTS + ')');
  process.exit(0);
} catch (e) {
  clearTimeout(overall);
  await bail(e instanceof TestFailure ? e.message : (e && e.stack) || String(e));
}
