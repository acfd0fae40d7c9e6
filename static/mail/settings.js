// Settings: display name and language, signature, vacation reply with dates, forwarding, app
// passwords (shown once), TOTP enrolment with a QR code, trusted senders for remote images,
// password change (SCRAM in the browser: neither password is sent) and signed-in devices.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import QRCode from 'qrcode';
import { isoDay, longDate, validAddr } from './util.js';
import {
  MECHANISM,
  authorizationHeader,
  b64decode,
  b64encode,
  clientFinal,
  clientFirst,
  fromUtf8,
  makeNonce,
  makeSecret,
  parseAuthParams,
} from '../scram.js';

const html = htm.bind(h);

function Qr({ text }) {
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
  const full = size + 2 * margin;
  return html`<svg class="qr-svg" viewBox=${'0 0 ' + full + ' ' + full} width=${full * 5} height=${full * 5} shape-rendering="crispEdges" role="img" aria-label="QR">
    <rect width=${full} height=${full} fill="#ffffff" /><path d=${d} fill="#000000" /></svg>`;
}

function Section({ id, title, children, desc }) {
  return html`<section class="card set-card" id=${id} aria-labelledby=${id + '-h'}>
    <h2 id=${id + '-h'}>${title}</h2>${desc && html`<p class="muted small">${desc}</p>`}${children}</section>`;
}

function General({ store, lang }) {
  const t = store.t;
  const p = store.s.prefs;
  const perm = typeof Notification === 'function' ? Notification.permission : 'unsupported';
  const askNotify = async (on) => {
    if (on && perm !== 'granted' && typeof Notification === 'function') {
      const r = await Notification.requestPermission();
      if (r !== 'granted') return store.toast(t('settings.notify_denied'), { kind: 'error' });
    }
    store.savePrefs({ notify: on });
  };
  return html`<${Section} id="set-general" title=${t('settings.general')}>
    <div class="set-row"><label for="set-lang">${t('settings.language')}</label>
      <select id="set-lang" value=${lang} onChange=${(e) => store.setLang(e.currentTarget.value)}>
        <option value="zh-CN">简体中文</option><option value="en">English</option></select></div>
    <${DisplayName} store=${store} />
    <label class="set-check"><input type="checkbox" id="set-notify" checked=${!!p.notify} disabled=${perm === 'unsupported' || perm === 'denied'}
      onChange=${(e) => askNotify(e.currentTarget.checked)} /> ${t('settings.notify')}
      ${perm === 'denied' && html`<span class="muted small"> ${t('settings.notify_blocked')}</span>`}</label>
    <label class="set-check"><input type="checkbox" checked=${!!p.conversation} onChange=${(e) => store.savePrefs({ conversation: e.currentTarget.checked })} /> ${t('settings.conversation')}</label>
    <div class="set-row"><label for="set-mode">${t('settings.compose_mode')}</label>
      <select id="set-mode" value=${p.composeMode || 'rich'} onChange=${(e) => store.savePrefs({ composeMode: e.currentTarget.value })}>
        <option value="rich">${t('compose.rich')}</option><option value="plain">${t('compose.plain')}</option></select></div>
  <//>`;
}

function DisplayName({ store }) {
  const t = store.t;
  const [name, setName] = useState(store.me.name || '');
  const [err, setErr] = useState('');
  const save = async () => {
    setErr('');
    const v = name.trim();
    if (!v) return setErr(t('settings.name_empty'));
    try {
      const me = await store.api.patch('/api/v1/me', { name: v });
      store.me.name = me.name;
      if (store.onProfile) store.onProfile(me);
      store.toast(t('settings.saved'));
      store.emit();
    } catch (e) {
      setErr(store.errorText(e));
    }
  };
  return html`<div class="set-row"><label for="set-name">${t('settings.name')}</label>
      <span class="inline-form"><input type="text" id="set-name" maxlength="100" value=${name}
        onInput=${(e) => setName(e.currentTarget.value)} onKeyDown=${(e) => e.key === 'Enter' && save()} />
      <button class="btn btn-small" id="set-name-save" type="button" onClick=${save}>${t('settings.save')}</button></span></div>
    <p class="muted small set-note">${store.me.address} · ${t('settings.name_note')}</p>
    ${err && html`<p class="msg msg-error" role="alert">${err}</p>`}`;
}

function Signature({ store }) {
  const t = store.t;
  const [sig, setSig] = useState(store.s.prefs.signature || '');
  return html`<${Section} id="set-signature" title=${t('settings.signature')} desc=${t('settings.signature_desc')}>
    <textarea id="sig-text" rows="4" value=${sig} aria-label=${t('settings.signature')} onInput=${(e) => setSig(e.currentTarget.value)}></textarea>
    <label class="set-check"><input type="checkbox" checked=${store.s.prefs.signatureAuto !== false}
      onChange=${(e) => store.savePrefs({ signatureAuto: e.currentTarget.checked })} /> ${t('settings.signature_auto')}</label>
    <button class="btn btn-primary btn-small" id="sig-save" type="button" onClick=${() => { store.savePrefs({ signature: sig.trim() }); store.toast(t('settings.saved')); }}>${t('settings.save')}</button>
  <//>`;
}

function MailSettings({ store }) {
  const t = store.t;
  const cur = store.s.settings;
  const [f, setF] = useState(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  useEffect(() => {
    if (!cur) store.loadSettings();
  }, []);
  useEffect(() => {
    if (cur && !f)
      setF({
        vOn: !!cur.vacation.on,
        vSubject: cur.vacation.subject || '',
        vBody: cur.vacation.body || '',
        vStart: cur.vacation.start ? isoDay(cur.vacation.start) : '',
        vEnd: cur.vacation.end ? isoDay(cur.vacation.end) : '',
        vPeriod: cur.vacation.period_days || 7,
        fTo: (cur.forwarding && cur.forwarding.to) || '',
        fKeep: cur.forwarding ? cur.forwarding.keep_copy !== false : true,
      });
  }, [cur]);
  if (!f) return html`<${Section} id="set-vacation" title=${t('settings.vacation')}><p class="muted">${t('list.loading')}</p><//>`;
  const set = (k) => (e) => setF(Object.assign({}, f, { [k]: e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value }));
  const save = async (part) => {
    setErr('');
    let body;
    if (part === 'vacation') {
      if (f.vStart && f.vEnd && f.vStart > f.vEnd) return setErr(t('settings.err_dates'));
      if (f.vOn && !f.vBody.trim()) return setErr(t('settings.err_vac_body'));
      body = { vacation: { on: f.vOn, subject: f.vSubject, body: f.vBody, start: f.vStart || null, end: f.vEnd || null, period_days: Math.max(1, Math.min(365, parseInt(f.vPeriod, 10) || 7)) } };
    } else {
      const to = f.fTo.trim();
      if (to && !validAddr(to)) return setErr(t('settings.err_fwd_addr'));
      if (to && to.toLowerCase() === store.me.address.toLowerCase()) return setErr(t('settings.err_fwd_self'));
      body = { forwarding: { to: to || null, keep_copy: f.fKeep } };
    }
    setBusy(true);
    try {
      const r = await store.api.put('/api/v1/settings/mail', body);
      store.set({ settings: r });
      store.toast(t('settings.saved'));
    } catch (e) {
      setErr(store.errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <${Section} id="set-vacation" title=${t('settings.vacation')} desc=${t('settings.vacation_desc')}>
      <label class="set-check"><input type="checkbox" id="vac-on" checked=${f.vOn} onChange=${set('vOn')} /> ${t('settings.vacation_on')}</label>
      <div class="set-grid">
        <label>${t('settings.vac_start')}<input type="date" id="vac-start" value=${f.vStart} max=${f.vEnd || undefined} onInput=${set('vStart')} /></label>
        <label>${t('settings.vac_end')}<input type="date" id="vac-end" value=${f.vEnd} min=${f.vStart || undefined} onInput=${set('vEnd')} /></label>
        <label>${t('settings.vac_period')}<input type="number" id="vac-period" min="1" max="365" value=${f.vPeriod} onInput=${set('vPeriod')} /></label>
      </div>
      <label class="set-block">${t('settings.vac_subject')}<input type="text" id="vac-subject" value=${f.vSubject} placeholder=${t('settings.vac_subject_ph')} onInput=${set('vSubject')} /></label>
      <label class="set-block">${t('settings.vac_body')}<textarea id="vac-body" rows="4" value=${f.vBody} onInput=${set('vBody')}></textarea></label>
      ${cur.vacation.on && html`<p class="msg msg-info small">${t('settings.vac_active', { start: cur.vacation.start ? longDate(cur.vacation.start, store.lang) : '—', end: cur.vacation.end ? longDate(cur.vacation.end, store.lang) : '—' })}</p>`}
      <button class="btn btn-primary btn-small" id="vac-save" type="button" disabled=${busy} onClick=${() => save('vacation')}>${t('settings.save')}</button>
    <//>
    <${Section} id="set-forwarding" title=${t('settings.forwarding')} desc=${t('settings.forwarding_desc')}>
      <label class="set-block">${t('settings.fwd_to')}<input type="email" id="fwd-to" value=${f.fTo} placeholder="name@example.com" onInput=${set('fTo')} /></label>
      <label class="set-check"><input type="checkbox" id="fwd-keep" checked=${f.fKeep} onChange=${set('fKeep')} /> ${t('settings.fwd_keep')}</label>
      <div class="btn-row">
        <button class="btn btn-primary btn-small" id="fwd-save" type="button" disabled=${busy} onClick=${() => save('forwarding')}>${t('settings.save')}</button>
        ${cur.forwarding && cur.forwarding.to && html`<button class="btn btn-small" id="fwd-off" type="button" disabled=${busy}
          onClick=${() => { setF(Object.assign({}, f, { fTo: '' })); store.api.put('/api/v1/settings/mail', { forwarding: { to: null } }).then((r) => store.set({ settings: r })).catch((e) => setErr(store.errorText(e))); }}>${t('settings.fwd_off')}</button>`}
      </div>
    <//>
    ${err && html`<p class="msg msg-error" role="alert" id="set-error">${err}</p>`}
  `;
}

function AppPasswords({ store, lang }) {
  const t = store.t;
  const [items, setItems] = useState(null);
  const [name, setName] = useState('');
  const [fresh, setFresh] = useState(null);
  const [err, setErr] = useState('');
  const load = () => store.api.get('/api/v1/app-passwords').then((r) => setItems(r.items || [])).catch((e) => setErr(store.errorText(e)));
  useEffect(load, []);
  const create = async () => {
    if (!name.trim()) return setErr(t('settings.apppw_name_needed'));
    setErr('');
    try {
      const r = await store.api.post('/api/v1/app-passwords', { name: name.trim() });
      setFresh(r);
      setName('');
      load();
    } catch (e) {
      setErr(store.errorText(e));
    }
  };
  const revoke = async (it) => {
    if (!(await store.confirm({ title: t('settings.apppw_revoke'), text: t('settings.apppw_revoke_confirm', { name: it.name }), danger: true }))) return;
    try {
      await store.api.del('/api/v1/app-passwords/' + it.id);
      if (fresh && fresh.id === it.id) setFresh(null);
      load();
    } catch (e) {
      setErr(store.errorText(e));
    }
  };
  const when = (ts) => (ts ? longDate(ts, lang) : t('settings.never'));
  return html`<${Section} id="set-apppw" title=${t('settings.apppw')} desc=${t('settings.apppw_desc')}>
    ${fresh && html`<div class="once" role="status" id="apppw-once">
      <p>${t('settings.apppw_once', { name: fresh.name })}</p>
      <code class="secret" id="apppw-secret">${fresh.password}</code>
      <div class="btn-row"><button class="btn btn-small" type="button" onClick=${() => navigator.clipboard && navigator.clipboard.writeText(fresh.password).then(() => store.toast(t('settings.copied')))}>${t('settings.copy')}</button>
      <button class="btn btn-small" type="button" onClick=${() => setFresh(null)}>${t('settings.apppw_done')}</button></div></div>`}
    <ul class="apppw-list">
      ${(items || []).map((it) => html`<li key=${it.id}><span class="apppw-name">${it.name}</span>
        <span class="muted small">${t('settings.apppw_meta', { created: when(it.created), used: when(it.last_used) })}</span>
        <button class="btn btn-small danger" type="button" onClick=${() => revoke(it)}>${t('settings.apppw_revoke')}</button></li>`)}
      ${items && !items.length && html`<li class="muted">${t('settings.apppw_none')}</li>`}
    </ul>
    <div class="inline-form">
      <input type="text" id="apppw-name" value=${name} placeholder=${t('settings.apppw_name_ph')} aria-label=${t('settings.apppw_name')} onInput=${(e) => setName(e.currentTarget.value)}
        onKeyDown=${(e) => e.key === 'Enter' && create()} />
      <button class="btn btn-primary btn-small" id="apppw-create" type="button" onClick=${create}>${t('settings.apppw_create')}</button>
    </div>
    ${err && html`<p class="msg msg-error" role="alert">${err}</p>`}
  <//>`;
}

function Totp({ store }) {
  const t = store.t;
  const [me, setMe] = useState(null);
  const [enrol, setEnrol] = useState(null);
  const [code, setCode] = useState('');
  const [err, setErr] = useState('');
  useEffect(() => {
    store.api.get('/api/v1/me').then(setMe).catch(() => {});
  }, []);
  const start = async () => {
    setErr('');
    try {
      setEnrol(await store.api.post('/api/v1/totp/enrol', {}));
    } catch (e) {
      setErr(store.errorText(e));
    }
  };
  const confirm = async () => {
    setErr('');
    try {
      await store.api.post('/api/v1/totp/confirm', { code: code.replace(/\s/g, '') });
      setEnrol(null);
      setCode('');
      setMe(Object.assign({}, me, { totp_enabled: true }));
      store.toast(t('settings.totp_done'));
    } catch (e) {
      setErr(e.code === 'totp_invalid' ? t('settings.totp_bad') : store.errorText(e));
    }
  };
  return html`<${Section} id="set-totp" title=${t('settings.totp')} desc=${t('settings.totp_desc')}>
    <p id="totp-status">${me ? (me.totp_enabled ? t('settings.totp_on') : t('settings.totp_off')) : ''}</p>
    ${!enrol && html`<button class="btn btn-secondary btn-small" id="totp-start" type="button" onClick=${start}>${me && me.totp_enabled ? t('settings.totp_rebind') : t('settings.totp_enable')}</button>`}
    ${enrol && html`<div class="enrol">
      <div class="qr"><${Qr} text=${enrol.uri} /></div>
      <div><p class="small">${t('settings.totp_scan')}</p>
        <code class="secret" id="totp-secret">${enrol.secret.replace(/(.{4})(?=.)/g, '$1 ')}</code>
        <div class="inline-form"><input type="text" inputmode="numeric" autocomplete="one-time-code" id="totp-code" maxlength="8" value=${code}
          placeholder="123456" aria-label=${t('settings.totp_code')} onInput=${(e) => setCode(e.currentTarget.value)} onKeyDown=${(e) => e.key === 'Enter' && confirm()} />
        <button class="btn btn-primary btn-small" id="totp-confirm" type="button" onClick=${confirm}>${t('settings.totp_confirm')}</button>
        <button class="btn btn-small" type="button" onClick=${() => setEnrol(null)}>${t('act.cancel')}</button></div></div></div>`}
    ${err && html`<p class="msg msg-error" role="alert">${err}</p>`}
  <//>`;
}

function Trusted({ store }) {
  const t = store.t;
  const list = store.s.prefs.trust || [];
  return html`<${Section} id="set-trust" title=${t('settings.trust')} desc=${t('settings.trust_desc')}>
    <ul class="apppw-list">${list.map((a) => html`<li key=${a}><span>${a}</span>
      <button class="btn btn-small" type="button" onClick=${() => store.savePrefs({ trust: list.filter((x) => x !== a) })}>${t('settings.remove')}</button></li>`)}
      ${!list.length && html`<li class="muted">${t('settings.trust_none')}</li>`}</ul>
  <//>`;
}

// POST /api/v1/password in two steps (docs/API.md): step one answers 401 auth_continue with
// the SCRAM challenge for the current password; step two carries the proof and the new secret.
async function changePassword(store, oldPw, newPw) {
  const api = store.api;
  const me = await api.get('/api/v1/me');
  const cnonce = makeNonce();
  const first = clientFirst(store.me.address, cnonce);
  let challenge = null;
  try {
    await api.post('/api/v1/password', {}, { headers: { Authorization: MECHANISM + ' data=' + b64encode(first.message) } });
  } catch (e) {
    if (e.code !== 'auth_continue') throw e;
    challenge = parseAuthParams(e.headers && e.headers.get('WWW-Authenticate'));
  }
  if (!challenge || !challenge.sid || !challenge.data) throw new Error('no SCRAM challenge');
  const fin = await clientFinal(oldPw, first, fromUtf8(b64decode(challenge.data)), cnonce);
  const secret = await makeSecret(newPw, me.scram_iterations);
  await api.post('/api/v1/password', { secret }, {
    headers: { Authorization: authorizationHeader({ sid: challenge.sid, data: b64encode(fin.message) }) },
  });
}

function Password({ store }) {
  const t = store.t;
  const [f, setF] = useState({ old: '', pw: '', again: '' });
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const field = (k) => (e) => setF(Object.assign({}, f, { [k]: e.currentTarget.value }));
  const submit = async (e) => {
    e.preventDefault();
    setErr('');
    if (f.pw.length < 8) return setErr(t('settings.pw_short'));
    if (f.pw !== f.again) return setErr(t('settings.pw_mismatch'));
    if (f.pw === f.old) return setErr(t('settings.pw_same'));
    setBusy(true);
    try {
      await changePassword(store, f.old, f.pw);
      setF({ old: '', pw: '', again: '' });
      store.toast(t('settings.pw_done'));
    } catch (x) {
      setErr(x.code === 'auth_failed' ? t('settings.pw_wrong') : store.errorText(x));
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="set-form" id="pw-form" onSubmit=${submit} aria-busy=${busy ? 'true' : 'false'}>
    <h3 class="set-sub">${t('settings.password')}</h3>
    <p class="muted small">${t('settings.password_note')}</p>
    <div class="set-row"><label for="pw-old">${t('settings.pw_old')}</label>
      <input type="password" id="pw-old" autocomplete="current-password" value=${f.old} onInput=${field('old')} required /></div>
    <div class="set-row"><label for="pw-new">${t('settings.pw_new')}</label>
      <input type="password" id="pw-new" autocomplete="new-password" minlength="8" value=${f.pw} onInput=${field('pw')} required /></div>
    <div class="set-row"><label for="pw-again">${t('settings.pw_again')}</label>
      <input type="password" id="pw-again" autocomplete="new-password" value=${f.again} onInput=${field('again')} required /></div>
    <button class="btn btn-primary btn-small" id="pw-save" type="submit" disabled=${busy}>${t('settings.pw_change')}</button>
    ${err && html`<p class="msg msg-error" role="alert" id="pw-error">${err}</p>`}
  </form>`;
}

// "Chrome 156 · Linux" from a User-Agent header; the whole header stays in the tooltip.
export function describeAgent(ua) {
  if (!ua) return '';
  const pick = (re) => { const m = re.exec(ua); return m ? m[1] : ''; };
  const browsers = [
    [/Edg(?:e|A|iOS)?\/(\d+)/, 'Edge'], [/(?:OPR|Opera)\/(\d+)/, 'Opera'], [/MicroMessenger\/(\d+)/, 'WeChat'],
    [/Firefox\/(\d+)/, 'Firefox'], [/(?:Chrome|CriOS)\/(\d+)/, 'Chrome'], [/Version\/(\d+).*Safari/, 'Safari'],
  ];
  let browser = '';
  for (const [re, name] of browsers) {
    const v = pick(re);
    if (v) { browser = name + ' ' + v; break; }
  }
  const systems = [[/Windows NT/, 'Windows'], [/iPhone|iPad/, 'iOS'], [/Android/, 'Android'], [/Mac OS X/, 'macOS'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']];
  const sys = (systems.find(([re]) => re.test(ua)) || [null, ''])[1];
  const both = [browser, sys].filter(Boolean).join(' · ');
  return both || (ua.length > 40 ? ua.slice(0, 40) + '…' : ua);
}

function Sessions({ store, lang }) {
  const t = store.t;
  const [items, setItems] = useState(null);
  const [err, setErr] = useState('');
  const load = () => store.api.get('/api/v1/sessions').then((r) => setItems(r.items || [])).catch((e) => setErr(store.errorText(e)));
  useEffect(load, []);
  const signOut = async (id) => {
    setErr('');
    try {
      const r = await store.api.del('/api/v1/sessions' + (id ? '/' + id : ''));
      store.toast(t('settings.sessions_done', { n: r.signed_out }));
      load();
    } catch (e) {
      setErr(store.errorText(e));
    }
  };
  const others = (items || []).filter((s) => !s.current);
  return html`<h3 class="set-sub">${t('settings.sessions')}</h3>
    <p class="muted small">${t('settings.sessions_note')}</p>
    <ul class="apppw-list" id="sessions-list">${(items || []).map((s) => html`<li key=${s.id}>
      <span title=${s.client}><strong>${describeAgent(s.client) || t('settings.sessions_unknown')}</strong>
        <span class="muted small"> ${s.ip} · ${t('settings.sessions_seen')} ${longDate(s.last_seen, lang)}</span>
        ${s.current && html` <span class="badge">${t('settings.sessions_this')}</span>`}</span>
      ${!s.current && html`<button class="btn btn-small" type="button" onClick=${() => signOut(s.id)}>${t('settings.sessions_out')}</button>`}</li>`)}</ul>
    <button class="btn btn-secondary btn-small" id="sessions-out-all" type="button" disabled=${!others.length} onClick=${() => signOut(null)}>${t('settings.sessions_out_all')}</button>
    ${err && html`<p class="msg msg-error" role="alert">${err}</p>`}`;
}

function Security({ store, lang }) {
  const t = store.t;
  return html`<${Section} id="set-security" title=${t('settings.security')}>
    <${Password} store=${store} />
    <${Sessions} store=${store} lang=${lang} />
  <//>`;
}

export function Settings({ store, lang }) {
  const t = store.t;
  const nav = ['general', 'signature', 'vacation', 'forwarding', 'apppw', 'totp', 'trust', 'security'];
  return html`<div class="settings">
    <nav class="set-nav" aria-label=${t('settings.title')}>
      ${nav.map((k) => html`<a href=${'#set-' + k} key=${k} onClick=${(e) => { e.preventDefault(); const el = document.getElementById('set-' + k); if (el) el.scrollIntoView({ behavior: 'smooth', block: 'start' }); }}>${t('settings.' + k)}</a>`)}
    </nav>
    <div class="set-body">
      <h1 class="page-title">${t('settings.title')}</h1>
      <${General} store=${store} lang=${lang} />
      <${Signature} store=${store} />
      <${MailSettings} store=${store} />
      <${AppPasswords} store=${store} lang=${lang} />
      <${Totp} store=${store} />
      <${Trusted} store=${store} />
      <${Security} store=${store} lang=${lang} />
    </div>
  </div>`;
}
