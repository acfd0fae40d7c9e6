// The folder tree: unread counts, the mailbox usage, create / rename / move / delete for the
// user's own folders, and drop targets for messages dragged from the list.
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { Icon, folderIcon } from './icons.js';
import { Menu } from './menu.js';
import { fmtSize } from './util.js';

const html = htm.bind(h);

function FolderRow({ store, node, collapsed, toggle }) {
  const { f, depth, hasKids } = node;
  const s = store.s;
  const t = store.t;
  const [over, setOver] = useState(false);
  const active = !s.search && s.folderId === f.id;
  const name = store.folderName(f);
  const canDrop = (e) => Array.from(e.dataTransfer.types || []).indexOf('application/x-yz-ids') >= 0;
  const onDragOver = (e) => {
    if (!canDrop(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    if (!over) setOver(true);
  };
  const onDrop = (e) => {
    setOver(false);
    if (!canDrop(e)) return;
    e.preventDefault();
    let ids = [];
    try {
      ids = JSON.parse(e.dataTransfer.getData('application/x-yz-ids')) || [];
    } catch (err) {
      ids = store.dragging || [];
    }
    store.move(ids, f.id);
  };
  const custom = !f.role;
  const menu = custom
    ? [
        { label: t('folder.new_sub'), fn: () => store.createFolder(f.id) },
        { label: t('folder.rename'), fn: () => store.renameFolder(f.id) },
        { label: t('folder.move'), fn: () => store.moveFolder(f.id) },
        { sep: true },
        { label: t('folder.delete'), danger: true, fn: () => store.deleteFolder(f.id) },
      ]
    : [{ label: t('folder.new_sub'), fn: () => store.createFolder(f.id) }];
  const unread = f.role === 'drafts' ? f.total : f.unread;
  return html`
    <li role="treeitem" aria-selected=${active ? 'true' : 'false'} aria-level=${depth + 1}
      aria-expanded=${hasKids ? (collapsed ? 'false' : 'true') : undefined}
      class=${'folder' + (active ? ' is-active' : '') + (over ? ' is-over' : '')} data-folder=${f.id} data-role=${f.role || ''} data-name=${f.name}
      onDragOver=${onDragOver} onDragEnter=${onDragOver} onDragLeave=${() => setOver(false)} onDrop=${onDrop}>
      <div class=${'folder-line depth-' + Math.min(depth, 6)}>
        ${hasKids
          ? html`<button class="folder-twisty" type="button" aria-label=${t(collapsed ? 'folders.expand' : 'folders.collapse')} onClick=${() => toggle(f.id)}>
              <span class=${'twisty' + (collapsed ? '' : ' open')}></span></button>`
          : html`<span class="folder-twisty"></span>`}
        <button class="folder-btn" type="button" onClick=${() => store.selectFolder(f.id)} title=${f.path}>
          <${Icon} name=${folderIcon(f.role)} />
          <span class="folder-name">${name}</span>
          ${unread > 0 && html`<span class=${'badge' + (f.role === 'drafts' ? ' badge-quiet' : '')} aria-label=${t('folders.unread_n', { n: unread })}>${unread > 9999 ? '9999+' : unread}</span>`}
        </button>
        <${Menu} id=${'fmenu-' + f.id} label=${t('folders.actions', { name })} icon="more" items=${menu} align="right" btnClass="tool folder-more" />
      </div>
    </li>
  `;
}

export function FolderPane({ store }) {
  const s = store.s;
  const t = store.t;
  const [collapsed, setCollapsed] = useState({});
  const nodes = store.folderTree();
  const visible = [];
  const hiddenUnder = new Set();
  for (const n of nodes) {
    const p = n.f.parent;
    if (p != null && (collapsed[p] || hiddenUnder.has(p))) {
      hiddenUnder.add(n.f.id);
      continue;
    }
    visible.push(n);
  }
  const toggle = (id) => setCollapsed(Object.assign({}, collapsed, { [id]: !collapsed[id] }));
  const u = s.usage;
  const pct = u && u.quota ? Math.min(100, Math.round((u.bytes / u.quota) * 100)) : 0;
  return html`
    <nav class="folder-pane" aria-label=${t('folders.label')}>
      <div class="folder-top">
        <button class="btn btn-primary compose-btn" id="compose" type="button" onClick=${() => store.compose()}>
          <${Icon} name="compose" /><span>${t('compose.new')}</span>
        </button>
        <button class="tool only-phone" type="button" aria-label=${t('folders.hide')} onClick=${() => store.set({ pane: 'list' })}><${Icon} name="close" /></button>
      </div>
      <ul class="folder-tree" role="tree" aria-label=${t('folders.label')}>
        ${visible.map((n) => html`<${FolderRow} key=${n.f.id} store=${store} node=${n} collapsed=${!!collapsed[n.f.id]} toggle=${toggle} />`)}
      </ul>
      <button class="btn-link new-folder" id="new-folder" type="button" onClick=${() => store.createFolder(null)}>
        <${Icon} name="plus" size=${16} /> ${t('folder.new')}
      </button>
      ${u && html`
        <div class="usage" title=${t('folders.usage_title')}>
          <div class="usage-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct} aria-label=${t('folders.usage_title')}>
            <span style=${{ width: pct + '%' }}></span>
          </div>
          <span class="muted small">${t('folders.usage', { used: fmtSize(u.bytes), quota: u.quota ? fmtSize(u.quota) : '∞', n: u.messages })}</span>
        </div>`}
    </nav>
  `;
}
