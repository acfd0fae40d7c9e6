// The webmail: tabs along the top; the mailbox tab is folder tree + list + reading pane
// (one column with back navigation on a phone); mail, compose and settings tabs; the
// forwarding banner, toasts, dialogs and keyboard shortcuts.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { MailStore, MAIN_TAB } from './store.js';
import './actions.js';
import './compose-model.js';
import { TabBar } from './tabs.js';
import { FolderPane } from './folders.js';
import { ListPane } from './list.js';
import { Reader, ReaderPane } from './reader.js';
import { Compose } from './compose.js';
import { Settings } from './settings.js';
import { Dialog, KeysHelp, Toasts } from './dialogs.js';
import { Icon } from './icons.js';
import { isTyping } from './util.js';

const html = htm.bind(h);

export function createMailStore(opts) {
  return new MailStore(opts);
}

function ForwardBanner({ store }) {
  const st = store.s.settings;
  const fw = st && st.forwarding;
  const vac = st && st.vacation;
  const t = store.t;
  const out = [];
  if (fw && fw.to)
    out.push(html`<div class="banner banner-warn" role="status" id="fwd-banner">
      <${Icon} name="forward" size=${16} /><span>${t(fw.keep_copy ? 'banner.forwarding_keep' : 'banner.forwarding', { to: fw.to })}</span>
      <button class="btn-link" type="button" onClick=${() => store.openTab('settings')}>${t('banner.change')}</button></div>`);
  if (vac && vac.on)
    out.push(html`<div class="banner banner-info" role="status" id="vac-banner">
      <span>${t('banner.vacation')}</span>
      <button class="btn-link" type="button" onClick=${() => store.openTab('settings')}>${t('banner.change')}</button></div>`);
  return out;
}

function Mailbox({ store, lang }) {
  const s = store.s;
  return html`<div class=${'mailbox pane-' + s.pane}>
    <${FolderPane} store=${store} />
    <${ListPane} store=${store} lang=${lang} />
    <${ReaderPane} store=${store} lang=${lang} />
    ${s.pane === 'folders' && html`<div class="scrim only-phone" onClick=${() => store.set({ pane: 'list' })}></div>`}
  </div>`;
}

// Keyboard shortcuts for the mailbox and reading; compose has its own (Ctrl+Enter).
function useShortcuts(store, setHelp) {
  useEffect(() => {
    let g = false;
    const onKey = (e) => {
      const s = store.s;
      if (e.defaultPrevented || s.dialog) return;
      if (isTyping(e.target)) {
        if (e.key === 'Escape' && e.target.id !== 'search') e.target.blur();
        return;
      }
      const k = e.key;
      const ctrl = e.ctrlKey || e.metaKey;
      const tab = s.tabs.find((x) => x.key === s.active) || {};
      const ids = tab.kind === 'mail' ? [tab.id] : store.targetIds();
      const one = ids.length === 1 ? ids[0] : null;
      if (ctrl && (k === 'a' || k === 'A') && tab.kind === 'main') {
        e.preventDefault();
        return store.selectAll();
      }
      if (ctrl || e.altKey) return;
      if (g) {
        g = false;
        if (k === 'i') return store.selectFolder(store.roleFolder('inbox'));
        if (k === 's') return store.selectFolder(store.roleFolder('sent'));
        if (k === 'd') return store.selectFolder(store.roleFolder('drafts'));
      }
      const act = {
        '?': () => setHelp(true),
        '/': () => store.focusSearch && store.focusSearch(),
        c: () => store.compose(),
        g: () => (g = true),
        '[': () => store.cycleTab(-1),
        ']': () => store.cycleTab(1),
        w: () => s.active !== MAIN_TAB && store.closeTab(s.active),
        Escape: () => {
          if (s.selected.size > 1) store.clearSelection();
          else if (s.search) store.clearSearch();
          else if (s.pane === 'reader') store.set({ pane: 'list' });
        },
      };
      if (tab.kind === 'main') {
        Object.assign(act, {
          j: () => store.moveCursor(1, e.shiftKey),
          k: () => store.moveCursor(-1, e.shiftKey),
          ArrowDown: () => store.moveCursor(1, e.shiftKey),
          ArrowUp: () => store.moveCursor(-1, e.shiftKey),
          x: () => s.cursor >= 0 && store.clickRow(s.cursor, { ctrlKey: true }),
          Enter: () => one && (store.inRole([one], 'drafts') ? store.editDraft(one) : store.openTab('mail', { id: one })),
          o: () => one && store.openTab('mail', { id: one }),
        });
      }
      if (ids.length && (tab.kind === 'main' || tab.kind === 'mail')) {
        Object.assign(act, {
          r: () => one && store.reply(one, false),
          a: () => one && store.reply(one, true),
          f: () => one && store.forward(one, false),
          u: () => store.toggleSeen(ids),
          s: () => store.toggleFlag(ids),
          p: () => store.togglePin(ids),
          e: () => store.archive(ids),
          v: () => store.moveTo(ids),
          '#': () => store.remove(ids),
          Delete: () => store.remove(ids),
          '!': () => store.junk(ids),
        });
      }
      const fn = act[k];
      if (fn) {
        e.preventDefault();
        fn();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
}

export function MailApp({ store, lang }) {
  const [, setTick] = useState(0);
  const [help, setHelp] = useState(false);
  useEffect(() => store.subscribe(setTick), []);
  useShortcuts(store, setHelp);
  const s = store.s;
  const t = store.t;
  if (!s.ready) {
    return html`<div class="mail-loading" aria-busy="true"><span class="spinner"></span><p class="muted">${t('list.loading')}</p>
      ${s.error && html`<p class="msg msg-error" role="alert">${s.error}</p>`}</div>`;
  }
  return html`
    <div class="mail-app" data-active-kind=${(s.tabs.find((x) => x.key === s.active) || {}).kind}>
      <${ForwardBanner} store=${store} />
      ${s.error && html`<div class="banner banner-error" role="alert">${s.error}</div>`}
      <${TabBar} store=${store} />
      <div class="tab-panels">
        ${s.tabs.map((tab) => {
          const on = tab.key === s.active;
          let body = null;
          if (tab.kind === 'main') body = html`<${Mailbox} store=${store} lang=${lang} />`;
          else if (tab.kind === 'mail') body = html`<div class="mail-tab"><${Reader} store=${store} id=${tab.id} lang=${lang} /></div>`;
          else if (tab.kind === 'compose') body = html`<${Compose} store=${store} ckey=${tab.key} active=${on} />`;
          else if (tab.kind === 'settings') body = on ? html`<${Settings} store=${store} lang=${lang} />` : null;
          return html`<div class=${'tab-panel k-' + tab.kind} role="tabpanel" id=${'panel-' + tab.key} aria-labelledby=${'tab-' + tab.key} key=${tab.key} hidden=${!on}>${body}</div>`;
        })}
      </div>
      <${Toasts} store=${store} />
      <${Dialog} store=${store} />
      ${help && html`<${KeysHelp} store=${store} onClose=${() => setHelp(false)} />`}
    </div>
  `;
}
