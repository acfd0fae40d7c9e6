#!/usr/bin/env node
// End-to-end test of the webmail (static/mail/*), driven through Debian's chromium with
// playwright-core against a real server started by test_webmail.py, which stored the mails
// named below before the browser starts.
//
// Env: YZ_BASE, YZ_USER, YZ_PASS, YZ_NAME, YZ_ARTIFACTS, YZ_CHROMIUM (as login.mjs);
//      YZ_JP_SUBJECT / YZ_JP_TEXT (the corpus mail in Japanese), YZ_WEEKLY_SUBJECT (a mail to
//      drag into a new folder), YZ_HOSTILE_SUBJECT (hostile HTML), YZ_ATTACH (a file to send).
// Prints "ok <step>" per step; exits 1 with a message on the first failure.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE = (process.env.YZ_BASE || 'https://localhost:10443').replace(/\/+$/, '');
const USER = process.env.YZ_USER || '';
const PASS = process.env.YZ_PASS || '';
const NAME = process.env.YZ_NAME || '';
const NEWPASS = process.env.YZ_NEWPASS || '';
const JP_SUBJECT = process.env.YZ_JP_SUBJECT || 'まみむめも';
const JP_TEXT = process.env.YZ_JP_TEXT || 'すみません';
const WEEKLY = process.env.YZ_WEEKLY_SUBJECT || '周报';
const HOSTILE = process.env.YZ_HOSTILE_SUBJECT || 'hostile';
const ATTACH = process.env.YZ_ATTACH || '';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = process.env.YZ_ARTIFACTS || path.join(HERE, 'artifacts');
const CHROMIUM = process.env.YZ_CHROMIUM || '/usr/bin/chromium';
const OVERALL_MS = 170_000;
const STEP_MS = 15_000;
const T0 = Date.now();
const FOLDER = '项目资料';

let browser = null;
let finished = false;

function ok(step) {
  console.log('ok ' + step + ' [' + ((Date.now() - T0) / 1000).toFixed(1) + ' s]');
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
  if (lastPage) await lastPage.screenshot({ path: path.join(ARTIFACTS, 'webmail-failure.png') }).catch(() => {});
  await closeBrowser();
  process.exit(code);
}

const overall = setTimeout(() => bail('overall timeout of ' + OVERALL_MS / 1000 + ' s exceeded'), OVERALL_MS);
process.on('unhandledRejection', (e) => bail('unhandled rejection: ' + (e && e.stack ? e.stack : e)));
process.on('SIGINT', () => bail('interrupted', 130));
process.on('SIGTERM', () => bail('terminated', 143));

const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, name) });
let lastPage = null;

// page.waitForFunction with a description for the failure message.
async function until(page, desc, fn, arg, opts) {
  try {
    await page.waitForFunction(fn, arg, opts);
  } catch (e) {
    throw new TestFailure('timed out waiting until ' + desc);
  }
}

// A browser context ("device") with its own cookies, watching for script errors, CSP
// violations, missing strings, and every request to a host other than the server.
async function device(label, viewport) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport, locale: 'zh-CN', acceptDownloads: true });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  const sink = { csp: [], errors: [], i18n: [], remote: [] };
  const host = new URL(BASE).hostname;
  await context.route(
    (u) => u.hostname !== host && (u.protocol === 'http:' || u.protocol === 'https:'),
    (route) => {
      sink.remote.push(route.request().url());
      route.abort();
    }
  );
  const page = await context.newPage();
  lastPage = page;
  page.on('console', (m) => {
    const text = m.text();
    if (text.indexOf('Content Security Policy') >= 0) sink.csp.push(label + ': ' + text);
    if (text.indexOf('i18n: missing') >= 0) sink.i18n.push(label + ': ' + text);
  });
  page.on('pageerror', (e) => sink.errors.push(label + ': ' + String(e && e.message ? e.message : e)));
  page.on('request', (r) => {
    try {
      const u = new URL(r.url());
      if (u.hostname !== host && (u.protocol === 'http:' || u.protocol === 'https:')) sink.remote.push('attempt ' + r.url());
    } catch (e) {
      /* data: and the like */
    }
  });
  const clean = (where, opts = {}) => {
    if (!opts.csp) check(sink.csp.length === 0, 'CSP violation on ' + where + ': ' + sink.csp.join(' | '));
    check(sink.errors.length === 0, 'script error on ' + where + ': ' + sink.errors.join(' | '));
    check(sink.i18n.length === 0, 'untranslated string on ' + where + ': ' + sink.i18n.join(' | '));
  };
  return { context, page, sink, clean };
}

async function signIn(page, password = PASS) {
  await page.goto(BASE + '/login', { waitUntil: 'load' });
  await page.waitForFunction(() => !document.getElementById('login-submit').disabled);
  await page.fill('#address', USER);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((u) => u.pathname === '/', { waitUntil: 'load' }), page.click('#login-submit')]);
  await page.waitForSelector('.folder[data-role="inbox"]', { state: 'attached' });
  await page.waitForSelector('.vlist .row[data-id]', { state: 'attached' });
}

const rowBySubject = (page, subject) => page.locator('.vlist .row[data-id]').filter({ has: page.locator('.row-subject', { hasText: subject }) });

async function rowId(page, subject) {
  const row = rowBySubject(page, subject).first();
  await row.waitFor({ state: 'visible' });
  return Number(await row.getAttribute('data-id'));
}

async function openInbox(page) {
  await page.click('.folder[data-role="inbox"] .folder-btn');
  await until(page, 'the inbox is shown', () => (document.getElementById('list-title') || {}).textContent === '收件箱');
}

// Waits until a toast with this text shows (the app's live region).
async function toast(page, text) {
  await page.locator('.toast', { hasText: text }).first().waitFor({ state: 'visible' });
}

async function run() {
  check(USER && PASS && NAME && NEWPASS, 'YZ_USER, YZ_PASS, YZ_NEWPASS and YZ_NAME must be set');
  check(ATTACH && fs.existsSync(ATTACH), 'YZ_ATTACH must name a file');
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: STEP_MS,
  });
  ok('launch chromium');

  const A = await device('desktop', { width: 1366, height: 860 });
  const page = A.page;

  // 1. sign in: the inbox lists, with counts
  await signIn(page);
  const shown = (await page.locator('[data-testid="user-name"]').innerText()).trim();
  check(shown === NAME, 'header shows "' + shown + '", expected "' + NAME + '"');
  await until(page, 'the list count shows', () => /共 \d+ 封/.test((document.getElementById('list-count') || {}).textContent || ''));
  const inboxCount = Number(/共 (\d+) 封/.exec(await page.locator('#list-count').innerText())[1]);
  check(inboxCount >= 3, 'inbox lists ' + inboxCount + ' messages, expected at least 3');
  const badge = await page.locator('.folder[data-role="inbox"] .badge').innerText();
  check(Number(badge) >= 3, 'inbox unread badge is ' + badge);
  A.clean('/ (inbox)');
  await shot(page, 'webmail-inbox.png');
  ok('signed in, inbox lists ' + inboxCount + ' messages, ' + badge + ' unread');

  // 2. read the Japanese corpus mail (ISO-2022-JP body, RFC 2047 subject)
  const jpId = await rowId(page, JP_SUBJECT);
  await page.click('.row[data-id="' + jpId + '"]');
  await page.waitForSelector('.reader[data-id="' + jpId + '"] .mail-subject');
  const subj = await page.locator('.reader-pane .mail-subject').innerText();
  check(subj.indexOf(JP_SUBJECT) >= 0, 'reader subject is "' + subj + '"');
  const body = await page.locator('.reader-pane .mail-body').innerText();
  check(body.indexOf(JP_TEXT) >= 0, 'reader body "' + body.slice(0, 80) + '" lacks ' + JP_TEXT);
  check(/\d{4}年\d{1,2}月\d{1,2}日 周./.test(await page.locator('.reader-pane .mail-date').innerText()), 'reader date is not in the Chinese format');
  await page.waitForSelector('.row[data-id="' + jpId + '"].is-read');
  await until(page, 'the inbox badge goes down by one', (n) => Number((document.querySelector('.folder[data-role="inbox"] .badge') || {}).textContent) === n - 1, Number(badge));
  await shot(page, 'webmail-read.png');
  ok('read the Japanese mail: ' + JP_SUBJECT + ' / ' + JP_TEXT + ' (marked read, badge ' + (Number(badge) - 1) + ')');

  // 3. pin: it goes to the top of the list
  await page.click('#act-pin-one');
  await toast(page, '已置顶 1 封邮件');
  await until(page, 'the pinned mail is first', (id) => {
    const r = document.querySelector('.vlist .row[data-index="0"]');
    return r && Number(r.dataset.id) === id && r.classList.contains('is-pinned');
  }, jpId);
  ok('pinned: the mail is first in the list');

  // 4. colour tag
  await page.click('#colour-menu-one');
  await page.click('.menu-pop [data-value="red"]');
  await page.waitForSelector('.row[data-id="' + jpId + '"].c-red');
  check((await page.locator('.reader-pane .tag-c').innerText()).trim() === '红色', 'the reader does not show the red tag');
  ok('colour tag red shown in the list and the reader');

  // 5. a note, then find the mail by searching the note
  const note = '季度预算审批' + (Date.now() % 10000);
  await page.click('#act-note');
  await page.fill('#note-text', note);
  await page.click('#note-save');
  await toast(page, '备注已保存');
  await page.waitForSelector('.row[data-id="' + jpId + '"] .mk-note');
  await shot(page, 'webmail-note.png');
  await page.fill('#search', 'note:' + note);
  await page.press('#search', 'Enter');
  await until(page, 'search results show', () => /搜索/.test((document.getElementById('list-title') || {}).textContent || ''));
  await page.waitForFunction((id) => {
    const rows = document.querySelectorAll('.vlist .row[data-id]');
    return rows.length === 1 && Number(rows[0].dataset.id) === id;
  }, jpId, { timeout: 12000 }).catch(async () => {
    const ids = await page.$$eval('.vlist .row[data-id]', (rs) => rs.map((r) => r.dataset.id + ':' + r.innerText.replace(/\s+/g, ' ')));
    throw new TestFailure('searching the note found ' + JSON.stringify(ids));
  });
  await shot(page, 'webmail-search.png');
  await page.click('#search-clear');
  await until(page, 'the search is left', () => (document.getElementById('list-title') || {}).textContent === '收件箱');
  ok('note saved and found by note:' + note);

  // 6. suggestions for the query syntax
  await page.fill('#search', 'has');
  await page.waitForSelector('#search-sugg li');
  check((await page.locator('#search-sugg').innerText()).indexOf('has:attachment') >= 0, 'no has:attachment suggestion');
  // a search run, then the box used again at once: the wait that closes the list on blur
  // (150 ms) must not close it after the box has the focus back
  await page.fill('#search', 'subject:' + WEEKLY);
  await page.press('#search', 'Enter');
  await page.waitForTimeout(80);
  await page.fill('#search', 'has');
  await page.waitForTimeout(300);
  check(await page.locator('#search-sugg li').count() > 0, 'the suggestions closed after the box was used again straight after a search');
  await page.fill('#search', '');
  await page.press('#search', 'Escape');
  await page.press('#search', 'Escape');
  await until(page, 'the search is left', () => (document.getElementById('list-title') || {}).textContent === '收件箱');
  ok('search suggests has:attachment');

  // 7. a folder with a Chinese name, and a mail dragged onto it
  await page.click('#new-folder');
  await page.fill('#dlg-input', FOLDER);
  await page.click('#dlg-ok');
  const folderSel = '.folder[data-name="' + FOLDER + '"]';
  await page.waitForSelector(folderSel);
  const weeklyId = await rowId(page, WEEKLY);
  await page.dragAndDrop('.row[data-id="' + weeklyId + '"]', folderSel + ' .folder-btn');
  await toast(page, '已将 1 封邮件移到“' + FOLDER + '”');
  await page.waitForSelector('.row[data-id="' + weeklyId + '"]', { state: 'detached' });
  await until(page, 'the new folder shows 1 unread', (sel) => (document.querySelector(sel + ' .badge') || {}).textContent === '1', folderSel);
  await page.click(folderSel + ' .folder-btn');
  await page.waitForSelector('.row[data-id="' + weeklyId + '"]');
  await shot(page, 'webmail-folder.png');
  await openInbox(page);
  ok('dragged "' + WEEKLY + '" onto the new folder ' + FOLDER);

  // 8. hostile HTML: nothing runs, nothing leaves before the user allows it
  const titleBefore = await page.title();
  A.sink.remote.length = 0;
  const hostId = await rowId(page, HOSTILE);
  await page.click('.row[data-id="' + hostId + '"]');
  await page.waitForSelector('.reader-pane iframe.mail-frame');
  await page.waitForSelector('#remote-bar');
  const frame = page.frameLocator('.reader-pane iframe.mail-frame');
  await frame.locator('body', { hasText: 'visible text' }).waitFor();
  await page.waitForTimeout(800);
  const inside = await page.evaluate(() => {
    const d = document.querySelector('.reader-pane iframe.mail-frame').contentDocument;
    return {
      bad: d.body.querySelectorAll('script,form,input,button,iframe,object,embed,meta,link,svg,base,style').length +
        d.head.querySelectorAll(':not(meta[charset])').length,
      handlers: Array.from(d.querySelectorAll('*')).filter((e) => Array.from(e.attributes).some((a) => /^on/i.test(a.name))).length,
      js: Array.from(d.querySelectorAll('a[href]')).filter((a) => /^\s*javascript:/i.test(a.getAttribute('href'))).length,
      pwned: window.__pwned || d.defaultView.__pwned || null,
      sandbox: document.querySelector('.reader-pane iframe.mail-frame').getAttribute('sandbox'),
    };
  });
  check(inside.bad === 0 && inside.handlers === 0 && inside.js === 0, 'hostile markup survived: ' + JSON.stringify(inside));
  check(!inside.pwned && (await page.title()) === titleBefore, 'a script in the hostile mail ran');
  check(inside.sandbox.indexOf('allow-scripts') < 0 && inside.sandbox.indexOf('allow-forms') < 0, 'iframe sandbox allows too much: ' + inside.sandbox);
  const jsLink = frame.locator('a', { hasText: 'click me' });
  if (await jsLink.count()) await jsLink.first().click();
  await page.waitForTimeout(300);
  check((await page.title()) === titleBefore && !(await page.evaluate(() => window.__pwned)), 'the javascript: link ran');
  check(A.sink.remote.length === 0, 'requests left for remote hosts before allowing: ' + A.sink.remote.join(', '));
  A.clean('hostile mail (before allowing remote content)');
  const blockedText = await page.locator('#remote-bar').innerText();
  check(/已阻止 [1-9]\d* 项/.test(blockedText), 'remote bar says "' + blockedText + '"');
  await shot(page, 'webmail-hostile.png');
  await page.click('#remote-once');
  await page.waitForSelector('#remote-once', { state: 'detached' });
  await page.waitForTimeout(500);
  // allowed: the images are now asked for (the server's CSP, img-src 'self', still stops them)
  const asked = A.sink.remote.length + A.sink.csp.filter((x) => x.indexOf('evil.example') >= 0).length;
  check(asked > 0, 'allowing remote content asked for nothing');
  A.sink.csp.length = 0;
  A.sink.remote.length = 0;
  ok('hostile HTML: no script, no handler, no form, 0 remote requests; ' + blockedText.trim() + ' (allowed: ' + asked + ' remote loads asked for)');

  // 9. compose to myself with two attachments (file chooser + drag and drop), send, receive
  await openInbox(page);
  const subject = '附件测试 ' + Date.now().toString(36);
  await page.click('#compose');
  const compose = page.locator('.tab-panel:not([hidden]) .compose');
  await compose.waitFor();
  const rcpt = compose.locator('input.rcpt-input').first();
  await rcpt.fill(USER);
  await rcpt.press('Enter');
  await compose.locator('.chip', { hasText: USER.split('@')[0] }).first().waitFor().catch(async () => {
    await compose.locator('.chip').first().waitFor();
  });
  await compose.locator('.subj-input').fill(subject);
  await compose.locator('.editor.rich').click();
  await page.keyboard.type('你好，这是带附件的测试邮件。');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), compose.locator('[data-action="attach"]').click()]);
  await chooser.setFiles(ATTACH);
  const dropName = '会议纪要.txt';
  const dt = await page.evaluateHandle((name) => {
    const d = new DataTransfer();
    d.items.add(new File(['第一项：预算\n第二项：人员\n'], name, { type: 'text/plain' }));
    return d;
  }, dropName);
  await compose.dispatchEvent('dragenter', { dataTransfer: dt });
  await compose.dispatchEvent('dragover', { dataTransfer: dt });
  await compose.dispatchEvent('drop', { dataTransfer: dt });
  const attachName = path.basename(ATTACH);
  await compose.locator('.up.up-done[data-name="' + attachName + '"]').waitFor();
  await compose.locator('.up.up-done[data-name="' + dropName + '"]').waitFor();
  await shot(page, 'webmail-compose.png');
  await compose.locator('[data-action="send"]').click();
  await toast(page, '邮件将在 5 秒后发出');
  await page.waitForSelector('.tab-wrap.k-compose', { state: 'detached' });
  ok('sent "' + subject + '" to myself with ' + attachName + ' (picker) and ' + dropName + ' (drag and drop)');
  const t1 = Date.now();
  await rowBySubject(page, subject).first().waitFor({ state: 'visible', timeout: 45000 });
  ok('received it in the inbox without reloading (' + ((Date.now() - t1) / 1000).toFixed(1) + ' s after sending)');
  const sentId = await rowId(page, subject);
  await page.click('.row[data-id="' + sentId + '"]');
  await page.waitForSelector('.reader[data-id="' + sentId + '"] .atts');
  const atts = await page.locator('.reader-pane .att-name').allInnerTexts();
  check(atts.indexOf(attachName) >= 0 && atts.indexOf(dropName) >= 0, 'received attachments: ' + JSON.stringify(atts));
  await until(page, 'the image attachment preview loads', () => {
    const img = document.querySelector('.reader-pane .att-thumb img');
    return img && img.complete && img.naturalWidth > 0;
  });
  await page.click('.reader-pane .att-thumb');
  await page.waitForSelector('.lightbox img');
  await shot(page, 'webmail-received.png');
  await page.keyboard.press('Escape');
  await page.waitForSelector('.lightbox', { state: 'detached' });
  ok('received mail shows ' + atts.join(' + ') + ' with an image preview');

  // 10. a bad address is refused with a readable reason and the compose stays; then undo send
  await page.click('#compose');
  await compose.waitFor();
  await compose.locator('input.rcpt-input').first().fill('zhangsan-at-example');
  await compose.locator('input.rcpt-input').first().press('Enter');
  await compose.locator('.chip.chip-bad').waitFor();
  await compose.locator('.subj-input').fill('撤销测试');
  await compose.locator('[data-action="send"]').click();
  const err = (await compose.locator('[data-role="error"]').innerText()).trim();
  check(err.indexOf('zhangsan-at-example') >= 0 && err.indexOf('不是有效的邮箱地址') >= 0, 'bad address error: "' + err + '"');
  await compose.locator('.chip.chip-bad .chip-x').click();
  await compose.locator('input.rcpt-input').first().fill(USER);
  await compose.locator('input.rcpt-input').first().press('Enter');
  await compose.locator('.subj-input').fill('撤销测试');
  await compose.locator('[data-action="send"]').click();
  await page.locator('.toast', { hasText: '邮件将在 5 秒后发出' }).locator('.toast-act').click();
  await toast(page, '已撤销发送');
  await page.waitForSelector('.tab-wrap.k-compose');
  check((await page.locator('.tab-panel:not([hidden]) .subj-input').inputValue()) === '撤销测试', 'undo did not bring the compose back');
  await page.click('.tab-wrap.k-compose .tab-x');
  await page.waitForSelector('.tab-wrap.k-compose', { state: 'detached' });
  ok('a bad address was refused ("' + err + '"); undo send brought the compose back; closing it kept a draft');

  // 11. tabs that survive: a mail tab, a compose with content, then sign out
  await openInbox(page);
  await page.dblclick('.row[data-id="' + jpId + '"]');
  await page.waitForSelector('.tab-wrap.k-mail.is-active');
  await page.click('#tab-compose');
  await compose.waitFor();
  const draftSubject = '未完成的草稿 ' + Date.now().toString(36);
  await compose.locator('.subj-input').fill(draftSubject);
  await compose.locator('.editor.rich').click();
  await page.keyboard.type('明天继续写。');
  await page.waitForTimeout(300);
  // English and back: every label changes
  await page.click('#lang-toggle');
  await until(page, 'the English labels show', () => /Compose/.test(document.getElementById('compose').textContent));
  A.clean('English');
  await page.click('#lang-toggle');
  await until(page, 'the Chinese labels are back', () => /写信/.test(document.getElementById('compose').textContent));
  ok('language switch 中文 -> English -> 中文');
  const tabsBefore = await page.locator('.tabbar .tab-label').allInnerTexts();
  A.clean('/ (before sign-out)', { csp: true });
  await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('#sign-out')]);
  ok('signed out with tabs ' + JSON.stringify(tabsBefore));

  // 12. sign in on another device (a phone, fresh browser profile): the tabs come back
  const B = await device('phone', { width: 390, height: 844 });
  const phone = B.page;
  await signIn(phone);
  await phone.waitForSelector('.tab-wrap.k-mail');
  await phone.waitForSelector('.tab-wrap.k-compose');
  const tabsAfter = await phone.locator('.tabbar .tab-label').allInnerTexts();
  check(tabsAfter.some((x) => x.indexOf(JP_SUBJECT) >= 0), 'mail tab not restored: ' + JSON.stringify(tabsAfter));
  check(tabsAfter.some((x) => x.indexOf(draftSubject) >= 0), 'compose tab not restored: ' + JSON.stringify(tabsAfter));
  check((await phone.locator('.tab-wrap.is-active').getAttribute('data-kind')) === 'compose', 'the active tab was not restored');
  const restored = phone.locator('.tab-panel:not([hidden]) .compose');
  check((await restored.locator('.subj-input').inputValue()) === draftSubject, 'compose subject not restored');
  check((await restored.locator('.editor').innerText()).indexOf('明天继续写') >= 0, 'compose body not restored');
  await shot(phone, 'webmail-phone-restored.png');
  ok('another device restored ' + JSON.stringify(tabsAfter) + ' with the compose content');

  // 13. the phone: one column, back navigation
  await phone.click('.tab-wrap.k-main .tab');
  await phone.waitForSelector('.list-pane');
  check(await phone.locator('.list-pane').isVisible(), 'phone: list not visible');
  check(!(await phone.locator('.reader-pane').isVisible()), 'phone: reading pane beside the list');
  check((await phone.locator('.folder-pane').boundingBox()).x < 0, 'phone: folder tree not tucked away');
  await shot(phone, 'webmail-phone-list.png');
  await phone.click('.row[data-id="' + sentId + '"] .row-main');
  await phone.waitForSelector('.reader-pane .mail-subject');
  check(!(await phone.locator('.list-pane').isVisible()), 'phone: list still visible while reading');
  await shot(phone, 'webmail-phone-read.png');
  await phone.click('.reader-pane .back-btn');
  await phone.waitForSelector('.list-pane', { state: 'visible' });
  await phone.click('.list-head .only-phone');
  await until(phone, 'the folder drawer opens', () => document.querySelector('.folder-pane').getBoundingClientRect().x >= 0);
  await shot(phone, 'webmail-phone-folders.png');
  B.clean('phone');
  ok('phone: one column, reader with back, folder drawer');

  // 14. the account: display name, signed-in devices, password change (SCRAM in the browser)
  await signIn(page);
  await page.click('#open-settings');
  await page.waitForSelector('#set-security');
  await page.fill('#set-name', NAME + '（测试）');
  await page.click('#set-name-save');
  await toast(page, '设置已保存');
  // this browser, the phone and the test's own API session
  await until(page, 'the phone and this browser are listed', () => document.querySelectorAll('#sessions-list li').length >= 2);
  const nsessions = await page.locator('#sessions-list li').count();
  await page.locator('#set-security').scrollIntoViewIfNeeded();
  await shot(page, 'webmail-settings-security.png');
  await page.click('#sessions-out-all');
  await toast(page, '已退出 ' + (nsessions - 1) + ' 个登录');
  await until(page, 'only this browser is listed', () => document.querySelectorAll('#sessions-list li').length === 1);
  await phone.reload({ waitUntil: 'load' });
  await phone.waitForURL((u) => u.pathname === '/login');
  ok('display name changed; sessions listed; the phone was signed out from here (' + nsessions + ' sessions before)');
  await page.fill('#pw-old', 'not-the-password');
  await page.fill('#pw-new', NEWPASS);
  await page.fill('#pw-again', NEWPASS);
  await page.click('#pw-save');
  await until(page, 'the wrong current password is refused', () => /当前密码不正确/.test((document.getElementById('pw-error') || {}).textContent || ''));
  await page.fill('#pw-old', PASS);
  await page.click('#pw-save');
  await toast(page, '密码已修改');
  await page.click('.tab-wrap.k-settings .tab-x');
  await page.waitForSelector('.tab-wrap.k-settings', { state: 'detached' });
  A.clean('settings', { csp: true });
  await page.waitForTimeout(400); // the tab list is saved on the server before signing out
  await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('#sign-out')]);
  await signIn(page, NEWPASS);
  ok('password changed in the browser (a wrong current one refused); signed in with the new one');
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
