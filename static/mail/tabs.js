// The tab strip: the mailbox, each opened mail, each compose, settings. Middle-click or the
// × closes; the strip scrolls sideways on a phone.
import { h } from 'preact';
import htm from 'htm';
import { Icon } from './icons.js';

const html = htm.bind(h);

function tabLabel(store, tab) {
  const t = store.t;
  if (tab.kind === 'main') {
    const s = store.s;
    if (s.search) return t('tabs.search');
    return store.folderName(store.folder(s.folderId)) || t('nav.mail');
  }
  if (tab.kind === 'settings') return t('settings.title');
  if (tab.kind === 'compose') {
    const c = store.s.compose[tab.key];
    const subj = (c && c.subject) || tab.title;
    return subj ? subj : t('compose.new_title');
  }
  const m = store.msgs.get(tab.id) || store.items.get(tab.id);
  return (m && m.subject) || tab.title || t('list.no_subject');
}

const ICON = { main: 'inbox', mail: 'unread', compose: 'compose', settings: 'settings' };

export function TabBar({ store }) {
  const s = store.s;
  const t = store.t;
  const onKey = (e) => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      e.preventDefault();
      store.cycleTab(e.key === 'ArrowRight' ? 1 : -1);
      setTimeout(() => {
        const el = document.querySelector('.tab[aria-selected="true"]');
        if (el) el.focus();
      });
    }
  };
  return html`
    <div class="tabbar" role="tablist" aria-label=${t('tabs.label')} onKeyDown=${onKey}>
      ${s.tabs.map((tab) => {
        const on = tab.key === s.active;
        const label = tabLabel(store, tab);
        return html`
          <div class=${'tab-wrap' + (on ? ' is-active' : '') + ' k-' + tab.kind} key=${tab.key} data-key=${tab.key} data-kind=${tab.kind}>
            <button class="tab" role="tab" type="button" id=${'tab-' + tab.key} aria-selected=${on ? 'true' : 'false'} aria-controls=${'panel-' + tab.key}
              tabindex=${on ? 0 : -1} title=${label}
              onClick=${() => store.activate(tab.key)} onAuxClick=${(e) => e.button === 1 && store.closeTab(tab.key)}>
              <${Icon} name=${ICON[tab.kind]} size=${16} />
              <span class="tab-label">${label}</span>
              ${tab.kind === 'compose' && store.s.compose[tab.key] && store.s.compose[tab.key].dirty && html`<span class="tab-dot" aria-label=${t('tabs.unsaved')}></span>`}
            </button>
            ${tab.kind !== 'main' &&
            html`<button class="tab-x" type="button" aria-label=${t('tabs.close', { name: label })} title=${t('tabs.close', { name: label })} onClick=${() => store.closeTab(tab.key)}>
              <${Icon} name="close" size=${14} /></button>`}
          </div>`;
      })}
      <button class="tab-new" type="button" id="tab-compose" title=${t('compose.new') + ' (c)'} onClick=${() => store.compose()}>
        <${Icon} name="plus" size=${16} /><span>${t('compose.new')}</span>
      </button>
    </div>
  `;
}
