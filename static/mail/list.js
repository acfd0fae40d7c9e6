// The message list: toolbar (select, bulk actions, sort, filter), a virtualised list of fixed
// height rows (only what is on screen is in the DOM; pages load by cursor as it scrolls),
// multi-select with shift/ctrl, drag to a folder, markers for unread/pin/colour/note/attachment.
import { h } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { Icon } from './icons.js';
import { COLOURS, addrName, shortDate } from './util.js';
import { ColourMenu, Menu } from './menu.js';

const html = htm.bind(h);
export const ROW_H = 76;
const OVERSCAN = 8;

function Highlight({ segs }) {
  return html`${segs.map((s) => (s.match ? html`<mark>${s.text}</mark>` : s.text))}`;
}

function Row({ store, it, index, selected, focused, sentView, lang }) {
  const t = store.t;
  if (!it) {
    return html`<div class="row row-loading" role="option" aria-selected="false" aria-busy="true">
      <div class="row-main"><div class="skel skel-a"></div><div class="skel skel-b"></div></div>
    </div>`;
  }
  const seen = (it.flags || []).indexOf('seen') >= 0;
  const flagged = (it.flags || []).indexOf('flagged') >= 0;
  const answered = (it.flags || []).indexOf('answered') >= 0;
  const who = sentView
    ? t('list.to_prefix') + ((it.to || []).map(addrName).join('、') || t('list.no_rcpt'))
    : addrName(it.from) || t('list.no_sender');
  const cls = ['row', seen ? 'is-read' : 'is-unread', selected ? 'is-selected' : '', focused ? 'is-focus' : '', it.pinned ? 'is-pinned' : '', it.colour ? 'c-' + it.colour : '']
    .filter(Boolean)
    .join(' ');
  const onDragStart = (e) => {
    // the selection if this row is in it, else just this row (dragging does not open it)
    let ids = Array.from(store.s.selected);
    if (ids.indexOf(it.id) < 0) ids = [it.id];
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('application/x-yz-ids', JSON.stringify(ids));
    e.dataTransfer.setData('text/plain', t('list.n_messages', { n: ids.length }));
    store.dragging = ids;
  };
  const label = [seen ? '' : t('list.unread'), it.pinned ? t('list.pinned') : '', who, it.subject || t('list.no_subject'), shortDate(it.date, lang)].filter(Boolean).join('，');
  return html`
    <div class=${cls} role="option" aria-selected=${selected ? 'true' : 'false'} aria-label=${label} id=${'row-' + it.id}
      data-id=${it.id} data-index=${index} draggable="true" onDragStart=${onDragStart} onDragEnd=${() => (store.dragging = null)}
      onClick=${(e) => store.clickRow(index, e)}
      onDblClick=${() => (store.inRole([it.id], 'drafts') ? store.editDraft(it.id) : store.openTab('mail', { id: it.id }))}>
      <label class="row-check" onClick=${(e) => e.stopPropagation()}>
        <input type="checkbox" checked=${selected} aria-label=${t('list.select_one')}
          onChange=${(e) => store.clickRow(index, { ctrlKey: true, shiftKey: e.shiftKey })} />
      </label>
      <div class="row-main">
        <div class="row-line">
          <span class="row-from">${who}</span>
          <span class="row-marks">
            ${it.pinned && html`<${Icon} name="pin" size=${14} cls="mk-pin" title=${t('list.pinned')} />`}
            ${flagged && html`<${Icon} name="star" size=${14} cls="mk-flag" title=${t('list.flagged')} />`}
            ${answered && html`<${Icon} name="reply" size=${14} cls="mk-ans" title=${t('list.answered')} />`}
            ${it.has_note && html`<${Icon} name="note" size=${14} cls="mk-note" title=${t('list.has_note')} />`}
            ${it.has_attachments && html`<${Icon} name="clip" size=${14} cls="mk-att" title=${t('list.has_att')} />`}
            ${it.colour && html`<span class=${'dot c-' + it.colour} role="img" aria-label=${t('colour.' + it.colour)}></span>`}
          </span>
          <time class="row-date" datetime=${it.date}>${shortDate(it.date, lang)}</time>
        </div>
        <div class="row-subject">${it.subject || t('list.no_subject')}</div>
        <div class="row-snippet">${it.highlight && it.highlight.length ? html`<${Highlight} segs=${it.highlight} />` : it.snippet}</div>
      </div>
    </div>
  `;
}

function VirtualList({ store, lang }) {
  const s = store.s;
  const list = s.list;
  const ref = useRef(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const restored = useRef(null);
  const raf = useRef(0);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight || 600 });
    measure();
    const ro = typeof ResizeObserver === 'function' ? new ResizeObserver(measure) : null;
    if (ro) ro.observe(el);
    return () => ro && ro.disconnect();
  }, []);

  // a new list starts at the top, or where the saved state says it was
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || !list) return;
    if (restored.current !== list) {
      const want = s.restoreTop || 0;
      if (want === 0) {
        el.scrollTop = 0;
        restored.current = list;
      } else if (list.length > want) {
        el.scrollTop = want * ROW_H;
        restored.current = list;
        s.restoreTop = 0;
      }
    }
  });

  useEffect(() => {
    const el = ref.current;
    if (!el || s.scrollTo == null) return;
    const i = s.scrollTo;
    s.scrollTo = null;
    const top = i * ROW_H;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_H - el.clientHeight;
  });

  const onScroll = () => {
    cancelAnimationFrame(raf.current);
    raf.current = requestAnimationFrame(() => {
      const el = ref.current;
      if (!el) return;
      setView({ top: el.scrollTop, height: el.clientHeight });
      store.setListTop(Math.floor(el.scrollTop / ROW_H));
    });
  };

  const n = list ? list.length : 0;
  const first = Math.max(0, Math.floor(view.top / ROW_H) - OVERSCAN);
  const last = Math.min(n, Math.ceil((view.top + view.height) / ROW_H) + OVERSCAN);
  useEffect(() => {
    if (list) list.ensure(first, last);
  }, [list, first, last, n]);

  const sentView = !s.search && ['sent', 'drafts'].indexOf((store.folder(s.folderId) || {}).role) >= 0;
  const rows = [];
  for (let i = first; i < last; i++) {
    const id = list.idAt(i);
    const it = id != null ? store.items.get(id) : null;
    rows.push(html`<${Row} key=${id != null ? 'm' + id : 'p' + i} store=${store} it=${it} index=${i} lang=${lang}
      selected=${id != null && s.selected.has(id)} focused=${i === s.cursor} sentView=${sentView} />`);
  }
  const t = store.t;
  const empty = list && list.loaded && n === 0;
  return html`
    <div class="vlist" ref=${ref} onScroll=${onScroll} role="listbox" aria-multiselectable="true" tabindex="0"
      aria-label=${t('list.label')} aria-activedescendant=${s.cursor >= 0 && list.idAt(s.cursor) != null ? 'row-' + list.idAt(s.cursor) : undefined}
      onFocus=${() => store.s.cursor < 0 && n > 0 && store.set({ cursor: 0 })}>
      ${empty
        ? html`<div class="list-empty"><${Icon} name=${s.search ? 'search' : 'inbox'} size=${40} /><p>${s.search ? t('search.none') : t('list.empty')}</p></div>`
        : html`<div class="vlist-space" style=${{ height: n * ROW_H + 'px' }}>
            <div class="vlist-win" style=${{ transform: 'translateY(' + first * ROW_H + 'px)' }}>${rows}</div>
          </div>`}
      ${list && list.error && html`<div class="list-error" role="alert">${store.errorText(list.error)}
        <button class="btn btn-small" type="button" onClick=${() => list.refresh()}>${t('act.retry')}</button></div>`}
    </div>
  `;
}

function SortMenu({ store }) {
  const s = store.s;
  const t = store.t;
  const items = ['date', 'from', 'subject', 'size'].map((k) => ({
    label: t('sort.' + k),
    checked: s.sort === k,
    fn: () => store.setView({ sort: k }),
  }));
  items.push({ sep: true });
  items.push({ label: t('sort.desc'), checked: s.order === 'desc', fn: () => store.setView({ order: 'desc' }) });
  items.push({ label: t('sort.asc'), checked: s.order === 'asc', fn: () => store.setView({ order: 'asc' }) });
  return html`<${Menu} id="sort-menu" label=${t('sort.label')} text=${t('sort.' + s.sort)} icon="more" items=${items} />`;
}

function FilterMenu({ store }) {
  const s = store.s;
  const t = store.t;
  const items = ['', 'unread', 'pinned', 'flagged', 'attachments'].map((k) => ({
    label: t('filter.' + (k || 'all')),
    checked: s.filter === k,
    fn: () => store.setView({ filter: k }),
  }));
  items.push({ sep: true });
  for (const c of COLOURS)
    items.push({ label: t('colour.' + c), dot: c, checked: s.filter === 'colour:' + c, fn: () => store.setView({ filter: 'colour:' + c }) });
  const cur = s.filter.indexOf('colour:') === 0 ? t('colour.' + s.filter.slice(7)) : t('filter.' + (s.filter || 'all'));
  return html`<${Menu} id="filter-menu" label=${t('filter.label')} text=${cur} items=${items} active=${!!s.filter} />`;
}

export function BulkActions({ store, ids, compact }) {
  const t = store.t;
  const inTrash = store.inRole(ids, 'trash');
  const inJunk = store.inRole(ids, 'junk');
  const seen = ids.every((id) => store.isSeen(id));
  const b = (name, label, fn, extra) => html`
    <button class=${'tool' + (extra ? ' ' + extra : '')} type="button" title=${label} aria-label=${label} onClick=${fn}>
      <${Icon} name=${name} />${compact ? null : html`<span class="tool-text">${label}</span>`}
    </button>`;
  return html`
    <div class="bulk" role="group" aria-label=${t('list.actions')}>
      ${b(seen ? 'unread' : 'read', t(seen ? 'act.mark_unread' : 'act.mark_read'), () => store.toggleSeen(ids), 'act-seen')}
      ${b('star', t('act.flag'), () => store.toggleFlag(ids), 'act-flag')}
      ${b('pin', t('act.pin'), () => store.togglePin(ids), 'act-pin')}
      <${ColourMenu} store=${store} ids=${ids} />
      ${b('move', t('act.move'), () => store.moveTo(ids), 'act-move')}
      ${inTrash
        ? b('restore', t('act.restore'), () => store.restore(ids), 'act-restore')
        : b('junk', t(inJunk ? 'act.not_junk_btn' : 'act.junk'), () => store.junk(ids), 'act-junk')}
      ${b('trash', t(inTrash ? 'act.expunge' : 'act.delete'), () => store.remove(ids), 'act-delete')}
    </div>`;
}

export function ListPane({ store, lang }) {
  const s = store.s;
  const t = store.t;
  const list = s.list;
  const f = store.folder(s.folderId);
  const ids = store.selectedIds();
  const n = list ? list.length : 0;
  const loadedIds = list ? list.loadedIds() : [];
  const allSel = loadedIds.length > 0 && ids.length >= loadedIds.length;
  const boxRef = useRef(null);
  useEffect(() => {
    if (boxRef.current) boxRef.current.indeterminate = ids.length > 0 && !allSel;
  });
  let title = store.folderName(f);
  let count = list && list.total >= 0 ? t('list.count', { n: list.total }) : '';
  if (s.search) {
    title = t('search.results', { q: s.search.q });
    count = list && list.headNext === null ? t('list.count', { n: list.total }) : list && list.loaded ? t('search.more') : '';
  }
  return html`
    <section class="list-pane" aria-label=${t('list.pane')}>
      <div class="list-head">
        <button class="tool only-phone" type="button" aria-label=${t('folders.show')} onClick=${() => store.set({ pane: 'folders' })}>
          <${Icon} name="menu" />
        </button>
        <h2 class="list-title" id="list-title">${title}</h2>
        <span class="list-count muted small" id="list-count" aria-live="polite">${count}</span>
        ${s.search && html`
          <div class="seg" role="group" aria-label=${t('search.scope')}>
            <button type="button" class=${s.search.all ? 'on' : ''} aria-pressed=${s.search.all ? 'true' : 'false'} onClick=${() => store.search(s.search.q, { all: true })}>${t('search.all')}</button>
            <button type="button" class=${!s.search.all ? 'on' : ''} aria-pressed=${!s.search.all ? 'true' : 'false'} onClick=${() => store.search(s.search.q, { all: false })}>${t('search.in_folder', { name: store.folderName(f) })}</button>
          </div>
          <button class="tool" type="button" id="search-clear" onClick=${() => store.clearSearch()} aria-label=${t('search.clear')} title=${t('search.clear')}><${Icon} name="close" /></button>`}
      </div>
      <div class="list-tools">
        <label class="tool check-all" title=${t('list.select_all')}>
          <input type="checkbox" ref=${boxRef} checked=${allSel} aria-label=${t('list.select_all')}
            onChange=${() => (allSel ? store.clearSelection() : store.selectAll())} />
        </label>
        <button class="tool" type="button" id="refresh" title=${t('act.refresh')} aria-label=${t('act.refresh')} onClick=${() => store.refreshAll()}>
          <${Icon} name="refresh" cls=${list && list.busy ? 'spin' : ''} />
        </button>
        ${ids.length > 0
          ? html`<span class="sel-count" id="sel-count">${t('list.selected', { n: ids.length })}</span><${BulkActions} store=${store} ids=${ids} compact=${true} />`
          : html`<span class="tools-gap"></span>${!s.search && html`<${FilterMenu} store=${store} /><${SortMenu} store=${store} />`}`}
      </div>
      ${s.search && list && list.extra.pending > 0 && html`<p class="list-note small">${t('search.pending', { n: list.extra.pending })}</p>`}
      ${list ? html`<${VirtualList} store=${store} lang=${lang} key=${list.key} />` : null}
      ${n > 0 && html`<div class="list-foot-bar muted small">${list && list.busy ? t('list.loading') : ''}</div>`}
    </section>
  `;
}
