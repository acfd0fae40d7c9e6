#!/usr/bin/env node
// End-to-end test of the web sign-in (SCRAM in the browser), the app shell and sign-out,
// driven through Debian's chromium with playwright-core (no downloaded browsers).
//
// Env: YZ_BASE (default https://localhost:10443), YZ_USER, YZ_PASS, YZ_NAME (display name),
//      YZ_ARTIFACTS (directory for screenshots; default tests/e2e/artifacts, gitignored),
//      YZ_CHROMIUM (default /usr/bin/chromium).
// Prints "ok <step>" per step; exits 1 with a message on the first failure.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE = (process.env.YZ_BASE || 'https://localhost:10443').replace(/\/+$/, '');
const USER = process.env.YZ_USER || '';
const PASS = process.env.YZ_PASS || '';
const NAME = process.env.YZ_NAME || '';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = process.env.YZ_ARTIFACTS || path.join(HERE, 'artifacts');
const CHROMIUM = process.env.YZ_CHROMIUM || '/usr/bin/chromium';
const OVERALL_MS = 60_000;
const STEP_MS = 15_000;

// Characters the on-screen keyboard offers (must match static/login.js).
const OSK_LOWER = "1234567890qwertyuiopasdfghjklzxcvbnm-=[];',./\\`";
const OSK_UPPER = '!@#$%^&*()QWERTYUIOPASDFGHJKLZXCVBNM_+{}:"<>?|~';

let browser = null;
let finished = false;

function ok(step) {
  console.log('ok ' + step);
}

class TestFailure extends Error {}

function check(cond, message) {
  if (!cond) throw new TestFailure(message);
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

function cssString(s) {
  return '"' + s.replace(/["\\]/g, '\\$&') + '"';
}

async function run() {
  check(USER && PASS && NAME, 'YZ_USER, YZ_PASS and YZ_NAME must be set');
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

  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 800 },
    locale: 'zh-CN',
  });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  const page = await context.newPage();

  const cspViolations = [];
  const pageErrors = [];
  page.on('console', (m) => {
    const text = m.text();
    if (text.indexOf('Content Security Policy') >= 0) cspViolations.push(text);
  });
  page.on('pageerror', (e) => pageErrors.push(String(e && e.message ? e.message : e)));
  const assertClean = (where) => {
    check(cspViolations.length === 0, 'CSP violation on ' + where + ': ' + cspViolations.join(' | '));
    check(pageErrors.length === 0, 'script error on ' + where + ': ' + pageErrors.join(' | '));
  };
  const pathname = () => new URL(page.url()).pathname;

  // 1. the sign-in page loads, scripts run, no CSP violations
  const resp = await page.goto(BASE + '/login', { waitUntil: 'load' });
  check(resp && resp.status() === 200, 'GET /login answered ' + (resp && resp.status()));
  const csp = resp.headers()['content-security-policy'] || '';
  check(/script-src 'self'/.test(csp), 'no strict CSP header on /login: ' + csp);
  await page.waitForSelector('#login-form');
  await page.waitForFunction(() => !document.getElementById('login-submit').disabled);
  await page.waitForTimeout(200); // let late console messages arrive
  assertClean('/login');
  ok('login page, no CSP violations');

  // 2. switch to English and back; the address label must change and come back
  const label = () => page.locator('label[for="address"]').innerText();
  const label1 = (await label()).trim();
  const lang1 = await page.getAttribute('html', 'lang');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#lang-switch')]);
  const label2 = (await label()).trim();
  const lang2 = await page.getAttribute('html', 'lang');
  check(label2 !== label1, 'address label did not change after the language switch: ' + label2);
  check(lang2 !== lang1, 'html lang did not change: ' + lang2);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#lang-switch')]);
  const label3 = (await label()).trim();
  check(label3 === label1, 'language switch did not come back: ' + label3 + ' != ' + label1);
  await page.waitForFunction(() => !document.getElementById('login-submit').disabled);
  assertClean('/login (language switch)');
  ok('language switch ' + lang1 + ' -> ' + lang2 + ' -> ' + (await page.getAttribute('html', 'lang')));

  // 3. address, then the password: part through the on-screen keyboard, the rest typed
  await page.fill('#address', USER);
  await page.click('#osk-toggle');
  await page.waitForSelector('#osk .osk-key');
  check(await page.isVisible('#osk'), 'on-screen keyboard did not open');
  const chars = Array.from(PASS);
  let viaOsk = 0;
  const oskMax = Math.max(1, Math.ceil(chars.length / 2));
  while (viaOsk < oskMax && viaOsk < chars.length) {
    const ch = chars[viaOsk];
    const upper = OSK_UPPER.indexOf(ch) >= 0;
    if (!upper && OSK_LOWER.indexOf(ch) < 0) break; // not on the keyboard: type the rest
    const shifted = (await page.getAttribute('#osk [data-action="shift"]', 'aria-pressed')) === 'true';
    if (shifted !== upper) await page.click('#osk [data-action="shift"]');
    await page.click('#osk button[data-key=' + cssString(ch) + ']');
    viaOsk++;
  }
  check(viaOsk > 0, 'the password does not start with a character the on-screen keyboard offers');
  const afterOsk = await page.inputValue('#password');
  check(afterOsk === chars.slice(0, viaOsk).join(''), 'on-screen keyboard typed the wrong characters');
  await page.screenshot({ path: path.join(ARTIFACTS, 'login.png'), fullPage: true });
  await page.click('#osk [data-action="close"]');
  check(!(await page.isVisible('#osk')), 'on-screen keyboard did not close');
  await page.focus('#password');
  await page.keyboard.press('End');
  await page.keyboard.type(chars.slice(viaOsk).join(''));
  check((await page.inputValue('#password')) === PASS, 'password field does not hold the password');
  ok('password entered (' + viaOsk + ' of ' + chars.length + ' characters on the on-screen keyboard)');

  // 4. sign in -> the app at /
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/', { waitUntil: 'load' }).catch(async (e) => {
      const msg = await page.locator('#login-msg').innerText().catch(() => '');
      throw new TestFailure('sign-in did not reach /: ' + (msg || e.message) + ' (at ' + page.url() + ')');
    }),
    page.click('#login-submit'),
  ]);
  ok('signed in, at ' + pathname());

  const nameEl = page.locator('[data-testid="user-name"]');
  await nameEl.waitFor({ state: 'visible' });
  await page.waitForFunction(
    (want) => {
      const el = document.querySelector('[data-testid="user-name"]');
      return el && el.textContent.trim() === want;
    },
    NAME,
    { timeout: 5000 }
  ).catch(() => {});
  const shown = (await nameEl.innerText()).trim();
  check(shown === NAME, 'displayed name is "' + shown + '", expected "' + NAME + '"');
  await page.waitForTimeout(200);
  assertClean('/');
  await page.screenshot({ path: path.join(ARTIFACTS, 'app.png'), fullPage: true });
  ok('app shows the name "' + NAME + '"');

  // 5. sign out -> back on /login
  await Promise.all([page.waitForURL((u) => u.pathname === '/login', { waitUntil: 'load' }), page.click('#sign-out')]);
  ok('signed out, at ' + pathname());
  const me = await page.evaluate(async () => (await fetch('/api/v1/me', { cache: 'no-store' })).status);
  check(me === 401, 'session still valid after sign-out: /api/v1/me answered ' + me);
  ok('session gone (/api/v1/me -> 401)');

  // 6. a wrong password shows the error
  await page.waitForFunction(() => !document.getElementById('login-submit').disabled);
  await page.fill('#address', USER);
  await page.fill('#password', PASS + 'x-wrong');
  await page.click('#login-submit');
  const expected = await page.getAttribute('#login', 'data-msg-auth-failed');
  const msgBox = page.locator('#login-msg.msg-error');
  await msgBox.waitFor({ state: 'visible' });
  const got = (await msgBox.innerText()).trim();
  check(got === expected, 'wrong password showed "' + got + '", expected "' + expected + '"');
  check(pathname() === '/login', 'wrong password left /login: ' + page.url());
  assertClean('/login (wrong password)');
  await page.screenshot({ path: path.join(ARTIFACTS, 'login-error.png'), fullPage: true });
  ok('wrong password rejected: ' + got);
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
