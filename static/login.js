// Sign-in page: HTTP SCRAM-SHA-256 (docs/API.md), second factor, on-screen keyboard.
// All user-visible text comes from data-msg-* attributes rendered by templates/login.html.
import {
  MECHANISM,
  ScramError,
  authorizationHeader,
  b64decode,
  b64encode,
  clientFinal,
  clientFirst,
  fromUtf8,
  makeNonce,
  normalizeAddress,
  parseAuthParams,
  verifyServerFinal,
} from './scram.js';
import QRCode from 'qrcode';

const API_SESSION = '/api/v1/session';
const ADMIN_ROLES = ['sysadmin', 'secadmin', 'auditor'];

const $ = (id) => document.getElementById(id);
const root = $('login');
const loginForm = $('login-form');
const totpForm = $('totp-form');
const enrolForm = $('enrol-form');
const addressInput = $('address');
const passwordInput = $('password');
const submitBtn = $('login-submit');
const msgBox = $('login-msg');

// Session state after a successful SCRAM exchange.
let csrfToken = '';
let account = null;
let enrolSecret = '';

// ---- messages ---------------------------------------------------------------------------------

function msg(name, vars) {
  const key = 'msg' + name.replace(/(^|[-_])([a-z])/g, (_, __, c) => c.toUpperCase());
  let text = (root && root.dataset[key]) || name;
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return text;
}

function show(kind, text) {
  msgBox.textContent = text || '';
  msgBox.className = 'msg' + (text ? ' msg-' + kind : '');
}
const showError = (name, vars) => show('error', msg(name, vars));
const showInfo = (name, vars) => show('info', msg(name, vars));
const clearMsg = () => show('info', '');

function setBusy(form, busy) {
  form.setAttribute('aria-busy', busy ? 'true' : 'false');
  for (const el of form.querySelectorAll('input, button')) {
    if (busy) {
      el.dataset.wasDisabled = el.disabled ? '1' : '';
      el.disabled = true;
    } else {
      el.disabled = el.dataset.wasDisabled === '1';
      delete el.dataset.wasDisabled;
    }
  }
  const primary = form.querySelector('.btn-primary');
  if (primary) primary.classList.toggle('is-busy', busy);
}

function showStep(form) {
  for (const f of [loginForm, totpForm, enrolForm]) f.hidden = f !== form;
  // Switching language reloads the page; only offer it before the password step is done.
  const lang = $('lang-switch');
  if (lang) lang.hidden = form !== loginForm;
  const first = form.querySelector('input:not([type=hidden])');
  if (first) first.focus();
}

// ---- HTTP -------------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, code, retryAfter) {
    super(code || 'http_' + status);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter;
  }
}

class NetworkError extends Error {}

async function request(method, url, { headers = {}, json } = {}) {
  const init = {
    method,
    headers: Object.assign({ Accept: 'application/json' }, headers),
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'error',
  };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new NetworkError(String(e && e.message));
  }
  let body = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.indexOf('json') >= 0) {
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
  }
  return { res, body };
}

function errorCode(body) {
  return (body && body.error && body.error.code) || '';
}

function retryAfterSeconds(res) {
  const v = res.headers.get('Retry-After');
  if (!v) return null;
  if (/^\s*\d+\s*$/.test(v)) return Math.max(1, parseInt(v, 10));
  const t = Date.parse(v);
  return isNaN(t) ? null : Math.max(1, Math.ceil((t - Date.now()) / 1000));
}

function fail(res, body) {
  return new HttpError(res.status, errorCode(body), retryAfterSeconds(res));
}

function jsonPost(url, payload) {
  return request('POST', url, { json: payload, headers: { 'X-CSRF-Token': csrfToken } });
}

// ---- SCRAM sign-in ----------------------------------------------------------------------------

async function scramSignIn(address, password) {
  const cnonce = makeNonce();
  const first = clientFirst(address, cnonce);

  // Step 1: client-first-message; the server answers 401 auth_continue with its challenge.
  const r1 = await request('POST', API_SESSION, {
    headers: { Authorization: MECHANISM + ' data=' + b64encode(first.message) },
    json: {},
  });
  if (r1.res.status !== 401 || errorCode(r1.body) !== 'auth_continue') throw fail(r1.res, r1.body);
  const challenge = parseAuthParams(r1.res.headers.get('WWW-Authenticate'));
  if (!challenge || !challenge.sid || !challenge.data) {
    throw new ScramError('bad_message', 'no SCRAM challenge');
  }
  const serverFirst = fromUtf8(b64decode(challenge.data));

  // Step 2: client-final-message with the proof; verify the server signature on success.
  const fin = await clientFinal(password, first, serverFirst, cnonce);
  const r2 = await request('POST', API_SESSION, {
    headers: {
      Authorization: authorizationHeader({ sid: challenge.sid, data: b64encode(fin.message) }),
    },
    json: {},
  });
  if (r2.res.status !== 200) throw fail(r2.res, r2.body);

  const body = r2.body || {};
  // Keep the token first so that a failed verification can still end the session.
  csrfToken = typeof body.csrf_token === 'string' ? body.csrf_token : '';
  const info = parseAuthParams(r2.res.headers.get('Authentication-Info'), false);
  try {
    if (!info || !info.data) throw new ScramError('bad_server_signature', 'no Authentication-Info');
    verifyServerFinal(fromUtf8(b64decode(info.data)), fin.serverSignature);
  } catch (e) {
    signOutQuietly();
    throw new ScramError('bad_server_signature', e.message);
  }
  if (!csrfToken || !body.next) throw new ScramError('bad_message', 'incomplete session answer');
  account = body.account || null;
  return body.next;
}

function signOutQuietly() {
  if (!csrfToken) return Promise.resolve();
  const token = csrfToken;
  csrfToken = '';
  return request('DELETE', API_SESSION, { headers: { 'X-CSRF-Token': token } }).catch(() => {});
}

function landingPage() {
  const role = account && account.role;
  return ADMIN_ROLES.indexOf(role) >= 0 ? '/admin' : '/';
}

function finish() {
  showInfo('done');
  window.location.assign(landingPage());
}

async function proceed(next) {
  if (next === 'done') return finish();
  if (next === 'totp') {
    clearMsg();
    $('totp-code').value = '';
    showStep(totpForm);
    return;
  }
  if (next === 'totp_enrol') return startEnrol();
  throw new ScramError('bad_message', 'unknown next step ' + next);
}

function reportError(e, context) {
  if (e instanceof NetworkError) return showError('network');
  if (e instanceof HttpError) {
    if (e.status === 429) {
      return e.retryAfter ? showError('rate-limited', { s: e.retryAfter }) : showError('rate-limited-later');
    }
    if (e.code === 'auth_failed') return showError('auth-failed');
    if (e.code === 'totp_invalid') return showError('totp-invalid');
    if (e.code === 'unauthorized' && context === 'factor') {
      backToLogin();
      return showError('session-expired');
    }
    return showError(context === 'enrol' ? 'enrol-failed' : 'error');
  }
  if (e instanceof ScramError) {
    if (e.code === 'bad_server_signature') return showError('server-verify');
    if (e.code === 'no_webcrypto') return showError('no-crypto');
    return showError('protocol');
  }
  return showError('error');
}

loginForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  oskClose();
  let address = normalizeAddress(addressInput.value);
  const password = passwordInput.value;
  if (!address || !password) {
    showError('required');
    (address ? passwordInput : addressInput).focus();
    return;
  }
  if (address.indexOf('@') < 0 && root.dataset.domain) {
    address += '@' + root.dataset.domain.toLowerCase();
  }
  addressInput.value = address;
  setBusy(loginForm, true);
  showInfo('working');
  let next;
  try {
    next = await scramSignIn(address, password);
  } catch (e) {
    setBusy(loginForm, false);
    reportError(e, 'login');
    passwordInput.select();
    passwordInput.focus();
    return;
  }
  passwordInput.value = '';
  if (next === 'done') return finish(); // stay busy while the next page loads
  setBusy(loginForm, false);
  try {
    await proceed(next);
  } catch (e) {
    reportError(e, 'login');
  }
});

// ---- second factor ----------------------------------------------------------------------------

function readCode(input) {
  const code = input.value.replace(/\s+/g, '');
  if (!/^[0-9]{6}$/.test(code)) {
    showError('code-required');
    input.focus();
    return null;
  }
  return code;
}

async function submitCode(form, input, url) {
  const code = readCode(input);
  if (!code) return;
  setBusy(form, true);
  showInfo('verifying');
  try {
    const { res, body } = await jsonPost(url, { code });
    if (res.status !== 200) throw fail(res, body);
    if (body && body.next && body.next !== 'done') {
      setBusy(form, false);
      return await proceed(body.next);
    }
    finish();
  } catch (e) {
    setBusy(form, false);
    input.value = '';
    input.focus();
    reportError(e, 'factor');
  }
}

totpForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  submitCode(totpForm, $('totp-code'), '/api/v1/session/totp');
});

enrolForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  submitCode(enrolForm, $('enrol-code'), '/api/v1/totp/confirm');
});

async function startEnrol() {
  showInfo('working');
  const { res, body } = await jsonPost('/api/v1/totp/enrol', {});
  if (res.status !== 200 || !body || !body.uri || !body.secret) {
    const err = fail(res, body);
    reportError(err, res.status === 401 ? 'factor' : 'enrol');
    if (res.status !== 401) backToLogin(false);
    return;
  }
  enrolSecret = String(body.secret);
  renderQr($('enrol-qr'), String(body.uri));
  $('enrol-secret').textContent = enrolSecret.replace(/(.{4})(?=.)/g, '$1 ');
  $('enrol-code').value = '';
  clearMsg();
  showStep(enrolForm);
}

// Draws the QR code as an SVG built through the DOM (no inline styles, CSP-safe).
function renderQr(container, text) {
  const NS = 'http://www.w3.org/2000/svg';
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const size = qr.modules.size;
  const data = qr.modules.data;
  const margin = 4;
  let d = '';
  for (let y = 0; y < size; y++) {
    let x = 0;
    while (x < size) {
      if (!data[y * size + x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < size && data[y * size + x]) x++;
      d += 'M' + (start + margin) + ' ' + (y + margin) + 'h' + (x - start) + 'v1h-' + (x - start) + 'z';
    }
  }
  const svg = document.createElementNS(NS, 'svg');
  const full = size + 2 * margin;
  svg.setAttribute('viewBox', '0 0 ' + full + ' ' + full);
  svg.setAttribute('width', String(full * 5));
  svg.setAttribute('height', String(full * 5));
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('aria-hidden', 'true');
  const bg = document.createElementNS(NS, 'rect');
  bg.setAttribute('width', String(full));
  bg.setAttribute('height', String(full));
  bg.setAttribute('fill', '#ffffff');
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000000');
  svg.appendChild(bg);
  svg.appendChild(path);
  container.textContent = '';
  container.appendChild(svg);
}

$('enrol-copy').addEventListener('click', async () => {
  if (!enrolSecret) return;
  try {
    await navigator.clipboard.writeText(enrolSecret);
    show('info', msg('copied'));
  } catch (e) {
    const range = document.createRange();
    range.selectNodeContents($('enrol-secret'));
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
});

function backToLogin(signOut = true) {
  if (signOut) signOutQuietly();
  csrfToken = '';
  account = null;
  enrolSecret = '';
  $('enrol-qr').textContent = '';
  $('enrol-secret').textContent = '';
  passwordInput.value = '';
  showStep(loginForm);
  passwordInput.focus();
}

for (const b of document.querySelectorAll('.login-back')) {
  b.addEventListener('click', () => {
    backToLogin();
    clearMsg();
  });
}

// ---- on-screen keyboard (软键盘) --------------------------------------------------------------

const osk = $('osk');
const oskToggle = $('osk-toggle');
const OSK_ROWS = [
  ['1234567890', '!@#$%^&*()'],
  ['qwertyuiop', 'QWERTYUIOP'],
  ['asdfghjkl', 'ASDFGHJKL'],
  ['zxcvbnm', 'ZXCVBNM'],
  ["-=[];',./\\`", '_+{}:"<>?|~'],
];
let oskShift = false;

function oskKey(cls, label, attrs) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'osk-key ' + cls;
  if (typeof label === 'string') b.textContent = label;
  else for (const node of label) b.appendChild(node);
  for (const k in attrs) b.setAttribute(k, attrs[k]);
  return b;
}

function span(text, cls, hidden) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  if (hidden) s.setAttribute('aria-hidden', 'true');
  return s;
}

function buildOsk() {
  osk.textContent = '';
  OSK_ROWS.forEach((row, r) => {
    const div = document.createElement('div');
    div.className = 'osk-row';
    if (r === 3) {
      div.appendChild(
        oskKey('osk-fn osk-shift', [span('⇧', 'osk-symbol', true), span(msg('osk-shift'), 'osk-label')], {
          'data-action': 'shift',
          'aria-pressed': 'false',
          'aria-label': msg('osk-shift'),
          title: msg('osk-shift'),
        })
      );
    }
    for (let i = 0; i < row[0].length; i++) {
      const b = oskKey('osk-char', row[0][i], { 'data-key': row[0][i] });
      b.dataset.lower = row[0][i];
      b.dataset.upper = row[1][i];
      div.appendChild(b);
    }
    if (r === 3) {
      div.appendChild(
        oskKey('osk-fn osk-backspace', '⌫', { 'data-action': 'backspace', 'aria-label': msg('osk-backspace'), title: msg('osk-backspace') })
      );
    }
    osk.appendChild(div);
  });
  const last = document.createElement('div');
  last.className = 'osk-row';
  last.appendChild(oskKey('osk-fn osk-clear', msg('osk-clear'), { 'data-action': 'clear' }));
  last.appendChild(oskKey('osk-space', msg('osk-space'), { 'data-action': 'space' }));
  last.appendChild(oskKey('osk-fn osk-close', msg('osk-close'), { 'data-action': 'close' }));
  osk.appendChild(last);
}

function setShift(on) {
  oskShift = on;
  for (const b of osk.querySelectorAll('.osk-char')) {
    const ch = on ? b.dataset.upper : b.dataset.lower;
    b.textContent = ch;
    b.dataset.key = ch;
  }
  const s = osk.querySelector('.osk-shift');
  if (s) s.setAttribute('aria-pressed', on ? 'true' : 'false');
  osk.classList.toggle('is-shifted', on);
}

function insertText(text) {
  const el = passwordInput;
  const max = el.maxLength > 0 ? el.maxLength : Infinity;
  if (el.value.length - (el.selectionEnd - el.selectionStart) + text.length > max) return;
  const start = el.selectionStart == null ? el.value.length : el.selectionStart;
  const end = el.selectionEnd == null ? el.value.length : el.selectionEnd;
  el.setRangeText(text, start, end, 'end');
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

function backspace() {
  const el = passwordInput;
  let start = el.selectionStart == null ? el.value.length : el.selectionStart;
  const end = el.selectionEnd == null ? el.value.length : el.selectionEnd;
  if (start === end) {
    if (start === 0) return;
    // do not split a surrogate pair
    const c = el.value.charCodeAt(start - 1);
    start -= c >= 0xdc00 && c <= 0xdfff && start > 1 ? 2 : 1;
  }
  el.setRangeText('', start, end, 'end');
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

function oskOpen() {
  if (!osk.firstChild) buildOsk();
  osk.hidden = false;
  oskToggle.setAttribute('aria-expanded', 'true');
  oskToggle.classList.add('is-active');
  // Keep the phone's own keyboard away while the on-screen one is in use.
  passwordInput.setAttribute('inputmode', 'none');
  if (document.activeElement === passwordInput) passwordInput.blur();
}

function oskClose() {
  if (osk.hidden) return;
  osk.hidden = true;
  oskToggle.setAttribute('aria-expanded', 'false');
  oskToggle.classList.remove('is-active');
  passwordInput.removeAttribute('inputmode');
  setShift(false);
}

oskToggle.addEventListener('click', () => (osk.hidden ? oskOpen() : oskClose()));

// Keep focus where it is when a key is pressed with the mouse or a finger.
osk.addEventListener('mousedown', (ev) => {
  if (ev.target.closest('button')) ev.preventDefault();
});

osk.addEventListener('click', (ev) => {
  const b = ev.target.closest('button');
  if (!b || !osk.contains(b) || passwordInput.disabled) return;
  const action = b.dataset.action;
  if (action === 'shift') return setShift(!oskShift);
  if (action === 'backspace') return backspace();
  if (action === 'clear') {
    passwordInput.value = '';
    passwordInput.dispatchEvent(new Event('input', { bubbles: true }));
    return;
  }
  if (action === 'space') return insertText(' ');
  if (action === 'close') {
    oskClose();
    oskToggle.focus();
    return;
  }
  if (b.dataset.key) insertText(b.dataset.key);
});

document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && !osk.hidden) {
    oskClose();
    oskToggle.focus();
  }
});

// ---- start ------------------------------------------------------------------------------------

// Coming back through the back/forward cache: the form may still be marked busy.
window.addEventListener('pageshow', (ev) => {
  if (ev.persisted && loginForm.getAttribute('aria-busy') === 'true') {
    setBusy(loginForm, false);
    clearMsg();
  }
});

(function start() {
  document.documentElement.classList.add('js');
  if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
    showError('no-crypto');
    return;
  }
  submitBtn.disabled = false;
  if (addressInput.value && !passwordInput.value) passwordInput.focus();
})();
