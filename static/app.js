// The app shell for / (view=mail) and /admin (view=admin): one bundle, Preact + htm.
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { makeT, pickLang } from './i18n.js';
import { createApi, goToLogin } from './api.js';
import { AuditLog } from './audit.js';
import { MailApp, createMailStore } from './mail/app.js';
import { SearchBox } from './mail/search.js';
import { Icon } from './mail/icons.js';

const html = htm.bind(h);
const ADMIN_ROLES = ['sysadmin', 'secadmin', 'auditor'];

function Logo() {
  return html`<img class="app-logo" src="/static/logo.svg" alt="" width="32" height="32" />`;
}

function initials(name, address) {
  const s = (name || address || '?').trim();
  const first = Array.from(s)[0] || '?';
  return first.toUpperCase();
}

function Header({ t, me, view, onSignOut, signingOut, center, tools }) {
  return html`
    <header class=${'app-header' + (view === 'mail' ? ' mail-header' : '')}>
      <div class="app-header-inner">
        <a class="app-brand" href=${view === 'admin' ? '/admin' : '/'}>
          <${Logo} />
          <span class="app-product">${t('product')}</span>
          <span class="app-section">${view === 'admin' ? t('nav.admin') : t('nav.mail')}</span>
        </a>
        ${center}
        ${tools}
        <div class="app-user" aria-label=${t('header.account')}>
          <span class="avatar" aria-hidden="true">${initials(me.name, me.address)}</span>
          <span class="app-user-text">
            <span class="app-user-name" id="user-name" data-testid="user-name">${me.name || me.address}</span>
            <span class="app-user-address" data-testid="user-address">${me.address}</span>
          </span>
          <button class="btn btn-header" id="sign-out" type="button" onClick=${onSignOut} disabled=${signingOut}
            title=${t('header.sign_out')} aria-label=${t('header.sign_out')}>
            <svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
              <path fill="currentColor" d="M10 3h9a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2h-9v-2h9V5h-9V3Zm-.41 4.59L11 9l-2 2h8v2H9l2 2-1.41 1.41L5.17 12l4.42-4.41Z" />
            </svg>
            <span>${signingOut ? t('header.signing_out') : t('header.sign_out')}</span>
          </button>
        </div>
      </div>
    </header>
  `;
}

function AdminHome({ t, me, api, lang }) {
  const role = me.role;
  const isAdmin = ADMIN_ROLES.indexOf(role) >= 0;
  return html`
    <section class="card admin-head">
      <div>
        <h1 class="page-title">${t('admin.title')}</h1>
        <p class="muted">${t('admin.desc.' + (isAdmin ? role : 'user'))}</p>
      </div>
      <div class="role-badge" data-role=${role}>
        <span class="role-badge-label">${t('admin.role_label')}</span>
        <strong id="role-name">${t('role.' + (role || 'user'))}</strong>
      </div>
    </section>
    ${role === 'auditor'
      ? html`<${AuditLog} api=${api} t=${t} lang=${lang} />`
      : html`<section class="card"><p class="muted">${t('admin.soon')}</p></section>`}
  `;
}

const LANG_KEY = 'yz.lang';

function App({ boot, api, lang: lang0 }) {
  const [lang, setLangState] = useState(lang0);
  const t = makeT(lang);
  const [me, setMe] = useState({ name: boot.name, address: boot.address, role: boot.role });
  const [signingOut, setSigningOut] = useState(false);
  const [error, setError] = useState('');
  const [store] = useState(() =>
    boot.view === 'mail'
      ? createMailStore({ api, t, lang, me: { name: boot.name, address: boot.address }, setLang: (l) => changeLang(l),
          onProfile: (m) => setMe((old) => Object.assign({}, old, { name: m.name })) })
      : null
  );

  function changeLang(l) {
    const next = pickLang(l);
    try {
      window.localStorage.setItem(LANG_KEY, next);
    } catch (e) {
      /* private mode */
    }
    document.documentElement.lang = next;
    if (store) {
      store.t = makeT(next);
      store.lang = next;
      store.emit();
    }
    setLangState(next);
  }

  useEffect(() => {
    if (store) store.start();
  }, []);

  useEffect(() => {
    let alive = true;
    api
      .get('/api/v1/me')
      .then((m) => {
        if (!alive || !m) return;
        if (m.session_complete === false) return goToLogin();
        setMe({ name: m.name || '', address: m.address || boot.address, role: m.role || boot.role });
        if (store) store.me = { name: m.name || '', address: m.address || boot.address };
      })
      .catch((e) => {
        // 401 already redirected in api.js; anything else keeps the server-rendered identity.
        if (e && e.status === 0) setError(t('error.network'));
      });
    return () => {
      alive = false;
    };
  }, []);

  useEffect(() => {
    document.title = (boot.view === 'admin' ? t('nav.admin') : t('nav.mail')) + ' · ' + t('product');
  }, [lang]);

  async function signOut() {
    setSigningOut(true);
    setError('');
    if (store) await store.beforeSignOut();
    try {
      await api.del('/api/v1/session');
    } catch (e) {
      if (e.status !== 401) {
        setSigningOut(false);
        setError(e.status === 0 ? t('error.network') : t('error.sign_out'));
        return;
      }
    }
    goToLogin();
  }

  if (store) {
    const center = html`<${SearchBox} store=${store} />`;
    const tools = html`<div class="header-tools">
      <button class="btn btn-header btn-icon" type="button" id="open-settings" title=${t('settings.title')} aria-label=${t('settings.title')}
        onClick=${() => store.openTab('settings')}><${Icon} name="settings" /></button>
      <button class="btn btn-header btn-icon lang-btn" type="button" id="lang-toggle" title=${t('settings.language')}
        aria-label=${t('settings.language')} onClick=${() => store.setLang(lang === 'en' ? 'zh-CN' : 'en')}>${lang === 'en' ? '中' : 'EN'}</button>
    </div>`;
    return html`
      <div class="mail-root">
        <${Header} t=${t} me=${me} view="mail" onSignOut=${signOut} signingOut=${signingOut} center=${center} tools=${tools} />
        ${error && html`<p class="msg msg-error" role="alert">${error}</p>`}
        <main class="mail-main" id="main"><${MailApp} store=${store} lang=${lang} /></main>
      </div>
    `;
  }
  return html`
    <${Header} t=${t} me=${me} view=${boot.view} onSignOut=${signOut} signingOut=${signingOut} />
    <main class="app-main" id="main">
      ${error && html`<p class="msg msg-error" role="alert">${error}</p>`}
      <${AdminHome} t=${t} me=${me} api=${api} lang=${lang} />
    </main>
  `;
}

(function start() {
  const root = document.getElementById('app');
  if (!root) return;
  const ds = root.dataset;
  let saved = null;
  try {
    saved = window.localStorage.getItem(LANG_KEY);
  } catch (e) {
    saved = null;
  }
  const lang = pickLang(saved || ds.lang);
  document.documentElement.lang = lang;
  const meta = document.querySelector('meta[name="csrf-token"]');
  const boot = {
    view: ds.view === 'admin' ? 'admin' : 'mail',
    name: ds.name || '',
    address: ds.address || '',
    role: ds.role || 'user',
  };
  const api = createApi(meta ? meta.getAttribute('content') : '');
  root.textContent = '';
  root.classList.add('is-ready');
  if (boot.view === 'mail') document.body.classList.add('mail-page');
  render(html`<${App} boot=${boot} api=${api} lang=${lang} />`, root);
})();
