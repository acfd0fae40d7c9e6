// Reading a mail: actions, headers, remote-content banner, the body, attachments with
// previews, the note side panel, the conversation view, print and view source.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { Icon } from './icons.js';
import { ColourMenu, Menu } from './menu.js';
import { MailFrame, TextBody } from './body.js';
import { addrFull, addrName, fmtSize, hueOf, initials, longDate, shortDate } from './util.js';

const html = htm.bind(h);

function partUrl(id, part, inline) {
  return '/api/v1/messages/' + id + '/parts/' + encodeURIComponent(part) + (inline ? '?inline=1' : '');
}

function Avatar({ a }) {
  const hue = hueOf(a && a.address);
  return html`<span class=${'avatar-m hue-' + (hue % 12)} aria-hidden="true">${initials(a && a.name, a && a.address)}</span>`;
}

function AddrList({ store, list }) {
  return html`${(list || []).map(
    (a, i) => html`${i > 0 ? '，' : ''}<button type="button" class="addr" title=${a.address}
      onClick=${() => store.compose({ to: [{ name: a.name || '', address: a.address }] })}>${addrName(a)}</button>`
  )}`;
}

function Attachments({ store, m }) {
  const t = store.t;
  const [preview, setPreview] = useState(null);
  useEffect(() => {
    if (!preview) return;
    const onKey = (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        setPreview(null);
      }
    };
    document.addEventListener('keydown', onKey, true);
    return () => document.removeEventListener('keydown', onKey, true);
  }, [preview]);
  const atts = (m.attachments || []).filter((a) => !a.inline || !m.html);
  if (!atts.length) return null;
  const isImg = (a) => /^image\/(png|jpe?g|gif|webp)$/i.test(a.type);
  const isPdf = (a) => /^application\/pdf$/i.test(a.type);
  return html`
    <section class="atts" aria-label=${t('att.label')}>
      <h3 class="atts-title"><${Icon} name="clip" size=${16} /> ${t('att.count', { n: atts.length })}</h3>
      <ul class="att-list">
        ${atts.map(
          (a) => html`<li class="att" key=${a.part}>
            ${isImg(a)
              ? html`<button type="button" class="att-thumb" onClick=${() => setPreview(a)} aria-label=${t('att.preview_name', { name: a.name })}>
                  <img src=${partUrl(m.id, a.part, true)} alt="" loading="lazy" /></button>`
              : html`<span class="att-icon" aria-hidden="true">${(a.name.split('.').pop() || '').slice(0, 4).toUpperCase() || 'FILE'}</span>`}
            <span class="att-meta">
              <span class="att-name" title=${a.name}>${a.name || t('att.unnamed')}</span>
              <span class="muted small">${fmtSize(a.size)}</span>
            </span>
            <span class="att-acts">
              ${isImg(a) && html`<button type="button" class="tool" title=${t('att.preview')} aria-label=${t('att.preview')} onClick=${() => setPreview(a)}><${Icon} name="eye" /></button>`}
              ${isPdf(a) && html`<a class="tool" href=${partUrl(m.id, a.part, true)} target="_blank" rel="noopener" title=${t('att.preview')} aria-label=${t('att.preview')}><${Icon} name="eye" /></a>`}
              <a class="tool att-dl" href=${partUrl(m.id, a.part, false)} download=${a.name || true} title=${t('att.download')} aria-label=${t('att.download_name', { name: a.name })}><${Icon} name="download" /></a>
            </span>
          </li>`
        )}
      </ul>
      ${preview && html`
        <div class="lightbox" role="dialog" aria-modal="true" aria-label=${preview.name} onClick=${() => setPreview(null)}>
          <figure onClick=${(e) => e.stopPropagation()}>
            <img src=${partUrl(m.id, preview.part, true)} alt=${preview.name} />
            <figcaption>${preview.name} · ${fmtSize(preview.size)}
              <a class="btn btn-small" href=${partUrl(m.id, preview.part, false)} download=${preview.name}>${t('att.download')}</a>
              <button class="btn btn-small" type="button" onClick=${() => setPreview(null)}>${t('act.close')}</button></figcaption>
          </figure>
        </div>`}
    </section>
  `;
}

function NotePanel({ store, m, onClose }) {
  const t = store.t;
  const [text, setText] = useState(m.note || '');
  const [busy, setBusy] = useState(false);
  // another mail's note: its own text (not on the first render, where the effect would come
  // after the frame and could undo what was typed in it)
  const shownId = useRef(m.id);
  useEffect(() => {
    if (shownId.current === m.id) return;
    shownId.current = m.id;
    setText(m.note || '');
  }, [m.id]);
  const save = async () => {
    setBusy(true);
    await store.saveNote(m.id, text.trim());
    setBusy(false);
  };
  return html`
    <aside class="note-panel" aria-label=${t('note.title')}>
      <div class="note-head"><h3>${t('note.title')}</h3>
        <button class="tool" type="button" onClick=${onClose} aria-label=${t('act.close')}><${Icon} name="close" /></button></div>
      <p class="muted small">${t('note.hint')}</p>
      <textarea id="note-text" rows="8" value=${text} aria-label=${t('note.title')} placeholder=${t('note.placeholder')}
        onInput=${(e) => setText(e.currentTarget.value)}
        onKeyDown=${(e) => (e.key === 'Enter' && (e.ctrlKey || e.metaKey) ? save() : null)}></textarea>
      <div class="btn-row">
        <button class="btn btn-primary btn-small" id="note-save" type="button" disabled=${busy} onClick=${save}>${t('note.save')}</button>
        ${m.note && html`<button class="btn btn-small" type="button" onClick=${() => { setText(''); store.saveNote(m.id, ''); }}>${t('note.remove')}</button>`}
      </div>
    </aside>
  `;
}

function SourceView({ store, id, onClose }) {
  const t = store.t;
  const [text, setText] = useState(null);
  useEffect(() => {
    fetch('/api/v1/messages/' + id + '/raw', { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error('HTTP ' + r.status))))
      .then((b) => setText(new TextDecoder('utf-8', { fatal: false }).decode(b)))
      .catch((e) => setText(String(e.message)));
  }, [id]);
  return html`
    <div class="modal-back" onClick=${onClose}>
      <div class="modal modal-wide" role="dialog" aria-modal="true" aria-label=${t('read.source')} onClick=${(e) => e.stopPropagation()}>
        <div class="modal-head"><h2>${t('read.source')}</h2>
          <a class="btn btn-small" href=${'/api/v1/messages/' + id + '/raw'} download>${t('read.download_eml')}</a>
          <button class="tool" type="button" onClick=${onClose} aria-label=${t('act.close')}><${Icon} name="close" /></button></div>
        <pre class="source" id="source-text" tabindex="0">${text == null ? t('list.loading') : text}</pre>
      </div>
    </div>
  `;
}

function Remote({ store, m, info, allowed }) {
  const t = store.t;
  if (!info || (!info.blocked && !info.policyBlocked)) return null;
  if (allowed && info.policyBlocked) return html`<div class="remote-bar" role="status">${t('read.remote_policy')}</div>`;
  if (allowed) return null;
  const sender = m.from && m.from.address;
  return html`
    <div class="remote-bar" role="status" id="remote-bar">
      <${Icon} name="image" size=${16} /><span>${t('read.remote_blocked', { n: info.blocked })}</span>
      <button class="btn-link" type="button" id="remote-once" onClick=${() => { store.s.remoteOk.add(m.id); store.emit(); }}>${t('read.remote_show')}</button>
      ${sender && html`<button class="btn-link" type="button" id="remote-sender" onClick=${() => store.savePrefs({ trust: (store.s.prefs.trust || []).concat([sender.toLowerCase()]) })}>
        ${t('read.remote_trust', { addr: sender })}</button>`}
    </div>
  `;
}

function Body({ store, m }) {
  const [info, setInfo] = useState(null);
  const sender = ((m.from && m.from.address) || '').toLowerCase();
  const allowed = store.s.remoteOk.has(m.id) || (store.s.prefs.trust || []).indexOf(sender) >= 0;
  useEffect(() => setInfo(null), [m.id]);
  const onMailto = (addr) => store.compose({ to: [{ name: '', address: addr }] });
  return html`
    <${Remote} store=${store} m=${m} info=${info} allowed=${allowed} />
    <div class="mail-body" id=${'body-' + m.id}>
      ${m.html
        ? html`<${MailFrame} msg=${m} allowRemote=${allowed} onInfo=${setInfo} onMailto=${onMailto} title=${store.t('read.body_title', { subject: m.subject || '' })} />`
        : html`<${TextBody} text=${m.text} onMailto=${onMailto} />`}
    </div>
  `;
}

function Thread({ store, m, lang }) {
  const t = store.t;
  const [items, setItems] = useState(null);
  const [open, setOpen] = useState({});
  useEffect(() => {
    let alive = true;
    store.api.get('/api/v1/threads/' + m.thread).then((r) => alive && setItems(r.items || [])).catch(() => alive && setItems([]));
    return () => (alive = false);
  }, [m.thread, m.id]);
  if (!items || items.length < 2) return null;
  const toggle = (id) => {
    if (!open[id]) store.loadMessage(id).catch(() => {});
    setOpen(Object.assign({}, open, { [id]: !open[id] }));
  };
  return html`
    <section class="thread" aria-label=${t('read.thread', { n: items.length })}>
      <h3 class="thread-title"><${Icon} name="thread" size=${16} /> ${t('read.thread', { n: items.length })}</h3>
      ${items.filter((x) => x.id !== m.id).map((x) => {
        const full = store.msgs.get(x.id);
        return html`<div class=${'thread-item' + (open[x.id] ? ' open' : '')} key=${x.id}>
          <button class="thread-head" type="button" aria-expanded=${open[x.id] ? 'true' : 'false'} onClick=${() => toggle(x.id)}>
            <${Avatar} a=${x.from} /><span class="thread-from">${addrName(x.from)}</span>
            <span class="thread-snip muted">${x.snippet}</span><time class="muted small">${shortDate(x.date, lang)}</time>
          </button>
          ${open[x.id] && (full ? html`<div class="thread-body"><${Body} store=${store} m=${full} /></div>` : html`<p class="muted">${t('list.loading')}</p>`)}
        </div>`;
      })}
    </section>
  `;
}

export function Reader({ store, id, lang, inPane }) {
  const t = store.t;
  const s = store.s;
  const [note, setNote] = useState(false);
  const [source, setSource] = useState(false);
  const [showAll, setShowAll] = useState(false);
  const m0 = store.msgs.get(id);
  const it = store.items.get(id);
  if (!m0) {
    return html`<div class="reader reader-loading" aria-busy="true"><p class="muted">${t('list.loading')}</p></div>`;
  }
  const m = it ? Object.assign({}, m0, { flags: it.flags, colour: it.colour, pinned: it.pinned, folder: it.folder }) : m0;
  const ids = [m.id];
  const inTrash = store.inRole(ids, 'trash');
  const inDrafts = store.inRole(ids, 'drafts');
  const flagged = (m.flags || []).indexOf('flagged') >= 0;
  const seen = (m.flags || []).indexOf('seen') >= 0;
  const folder = store.folder(m.folder);
  const b = (icon, label, fn, idName) => html`<button class="tool" type="button" id=${idName} title=${label} aria-label=${label} onClick=${fn}><${Icon} name=${icon} /></button>`;
  const more = [
    { label: t(seen ? 'act.mark_unread' : 'act.mark_read'), fn: () => store.patch(ids, { seen: !seen }) },
    { label: t('read.print'), icon: 'print', fn: () => printMail(m) },
    { label: t('read.source'), icon: 'code', fn: () => setSource(true) },
    { label: t('read.download_eml'), icon: 'download', fn: () => window.location.assign('/api/v1/messages/' + m.id + '/raw') },
    { label: t('act.copy_to'), fn: async () => { const to = await store.chooseFolder({ title: t('act.copy_to') }); if (to) store.copy(ids, to); } },
    { label: t(store.inRole(ids, 'junk') ? 'act.not_junk_btn' : 'act.junk'), fn: () => store.junk(ids) },
    { label: t('act.archive'), fn: () => store.archive(ids) },
  ];
  if (inPane) more.unshift({ label: t('read.open_tab'), icon: 'tab', fn: () => store.openTab('mail', { id: m.id }) });
  const rcpt = (m.to || []).length + (m.cc || []).length + (m.bcc || []).length;
  return html`
    <article class=${'reader' + (note ? ' with-note' : '')} aria-labelledby=${'subj-' + m.id} data-id=${m.id}>
      <div class="reader-tools" role="toolbar" aria-label=${t('read.tools')}>
        ${(inPane ? html`<button class="tool only-phone back-btn" type="button" aria-label=${t('act.back')} onClick=${() => store.set({ pane: 'list' })}><${Icon} name="back" /></button>` : null)}
        ${inDrafts
          ? html`<button class="btn btn-primary btn-small" type="button" onClick=${() => store.editDraft(m.id)}><${Icon} name="drafts" size=${16} />${t('read.edit_draft')}</button>`
          : html`${b('reply', t('act.reply'), () => store.reply(m.id, false), 'act-reply')}
              ${b('replyAll', t('act.reply_all'), () => store.reply(m.id, true), 'act-reply-all')}
              <${Menu} id="fwd-menu" label=${t('act.forward')} icon="forward" items=${[
                { label: t('act.forward_inline'), fn: () => store.forward(m.id, false) },
                { label: t('act.forward_att'), fn: () => store.forward(m.id, true) },
              ]} />`}
        <span class="tools-sep"></span>
        ${inTrash ? b('restore', t('act.restore'), () => store.restore(ids), 'act-restore-one') : null}
        ${b('trash', t(inTrash ? 'act.expunge' : 'act.delete'), () => store.remove(ids), 'act-delete-one')}
        ${b('move', t('act.move'), () => store.moveTo(ids), 'act-move-one')}
        <button class=${'tool' + (flagged ? ' is-on' : '')} type="button" id="act-flag-one" aria-pressed=${flagged ? 'true' : 'false'} title=${t('act.flag')} aria-label=${t('act.flag')} onClick=${() => store.patch(ids, { flagged: !flagged })}><${Icon} name="star" /></button>
        <button class=${'tool' + (m.pinned ? ' is-on' : '')} type="button" id="act-pin-one" aria-pressed=${m.pinned ? 'true' : 'false'} title=${t(m.pinned ? 'act.unpin' : 'act.pin')} aria-label=${t(m.pinned ? 'act.unpin' : 'act.pin')} onClick=${() => store.togglePin(ids)}><${Icon} name="pin" /></button>
        <${ColourMenu} store=${store} ids=${ids} id="colour-menu-one" />
        <button class=${'tool' + (note || m.note ? ' is-on' : '')} type="button" id="act-note" aria-pressed=${note ? 'true' : 'false'} title=${t('note.title')} aria-label=${t('note.title')} onClick=${() => setNote(!note)}><${Icon} name="note" /></button>
        <button class=${'tool' + (s.prefs.conversation ? ' is-on' : '')} type="button" id="act-thread" aria-pressed=${s.prefs.conversation ? 'true' : 'false'} title=${t('read.conversation')} aria-label=${t('read.conversation')}
          onClick=${() => store.savePrefs({ conversation: !s.prefs.conversation })}><${Icon} name="thread" /></button>
        <${Menu} id="more-menu" label=${t('act.more')} icon="more" items=${more} align="right" />
      </div>
      <div class="reader-scroll">
        <div class="reader-main">
          <header class="mail-head">
            <h1 class="mail-subject" id=${'subj-' + m.id}>
              ${m.pinned && html`<${Icon} name="pin" size=${18} cls="mk-pin" title=${t('list.pinned')} />`}
              ${m.subject || t('list.no_subject')}
              ${m.colour && html`<span class=${'tag-c c-' + m.colour}>${t('colour.' + m.colour)}</span>`}
              ${folder && html`<span class="tag-f">${store.folderName(folder)}</span>`}
            </h1>
            <div class="mail-from">
              <${Avatar} a=${m.from} />
              <div class="mail-from-text">
                <div><strong class="from-name">${addrName(m.from)}</strong> <span class="muted small from-addr">${m.from && m.from.address && m.from.name ? '<' + m.from.address + '>' : ''}</span></div>
                <div class="muted small rcpts">
                  ${t('hdr.to')}：<${AddrList} store=${store} list=${showAll ? m.to : (m.to || []).slice(0, 3)} />
                  ${!showAll && rcpt > 3 && html` <button class="btn-link small" type="button" onClick=${() => setShowAll(true)}>${t('read.more_rcpt', { n: rcpt - 3 })}</button>`}
                </div>
                ${(showAll || rcpt <= 3) && (m.cc || []).length > 0 && html`<div class="muted small">${t('hdr.cc')}：<${AddrList} store=${store} list=${m.cc} /></div>`}
                ${(m.bcc || []).length > 0 && html`<div class="muted small">${t('hdr.bcc')}：<${AddrList} store=${store} list=${m.bcc} /></div>`}
                ${(m.reply_to || []).length > 0 && html`<div class="muted small">${t('hdr.reply_to')}：${m.reply_to.map(addrFull).join('，')}</div>`}
              </div>
              <time class="mail-date muted small" datetime=${m.sent_date || m.date}>${longDate(m.sent_date || m.date, lang)}</time>
            </div>
          </header>
          ${m.note && !note && html`<button type="button" class="note-chip" onClick=${() => setNote(true)}><${Icon} name="note" size=${14} /> ${m.note}</button>`}
          <${Body} store=${store} m=${m} />
          <${Attachments} store=${store} m=${m} />
          ${s.prefs.conversation && m.thread && html`<${Thread} store=${store} m=${m} lang=${lang} />`}
          ${!inDrafts && html`<div class="reply-bar">
            <button class="btn btn-secondary btn-small" type="button" onClick=${() => store.reply(m.id, false)}><${Icon} name="reply" size=${16} />${t('act.reply')}</button>
            <button class="btn btn-secondary btn-small" type="button" onClick=${() => store.reply(m.id, true)}><${Icon} name="replyAll" size=${16} />${t('act.reply_all')}</button>
            <button class="btn btn-secondary btn-small" type="button" onClick=${() => store.forward(m.id, false)}><${Icon} name="forward" size=${16} />${t('act.forward')}</button>
          </div>`}
        </div>
        ${note && html`<${NotePanel} store=${store} m=${m} onClose=${() => setNote(false)} />`}
      </div>
      ${source && html`<${SourceView} store=${store} id=${m.id} onClose=${() => setSource(false)} />`}
    </article>
  `;
}

// Print: the page's print stylesheet shows only the reader that asked.
function printMail(m) {
  const el = document.querySelector('.reader[data-id="' + m.id + '"]');
  document.body.classList.add('printing');
  if (el) el.classList.add('print-me');
  const done = () => {
    document.body.classList.remove('printing');
    if (el) el.classList.remove('print-me');
    window.removeEventListener('afterprint', done);
  };
  window.addEventListener('afterprint', done);
  window.print();
  setTimeout(done, 1000);
}

export function ReaderPane({ store, lang }) {
  const s = store.s;
  const t = store.t;
  const ids = store.selectedIds();
  if (ids.length > 1) {
    return html`<section class="reader-pane multi" aria-label=${t('read.pane')}>
      <div class="multi-box">
        <p class="multi-n" id="multi-n">${t('list.selected', { n: ids.length })}</p>
        <${BulkButtons} store=${store} ids=${ids} />
        <button class="btn-link" type="button" onClick=${() => store.clearSelection()}>${t('list.clear_sel')}</button>
      </div></section>`;
  }
  if (!s.preview) {
    const f = store.folder(s.folderId);
    return html`<section class="reader-pane empty" aria-label=${t('read.pane')}>
      <div class="empty-box"><${Icon} name="inbox" size=${48} />
        <p>${t('read.none')}</p>
        ${f && html`<p class="muted small">${t('read.folder_info', { name: store.folderName(f), n: f.total, u: f.unread })}</p>`}
        <p class="muted small">${t('keys.hint')}</p>
      </div></section>`;
  }
  return html`<section class="reader-pane" aria-label=${t('read.pane')}><${Reader} store=${store} id=${s.preview} lang=${lang} inPane=${true} key=${s.preview} /></section>`;
}

function BulkButtons({ store, ids }) {
  const t = store.t;
  return html`<div class="btn-row multi-acts">
    <button class="btn btn-secondary btn-small" type="button" onClick=${() => store.toggleSeen(ids)}>${t('act.toggle_read')}</button>
    <button class="btn btn-secondary btn-small" type="button" onClick=${() => store.togglePin(ids)}>${t('act.pin')}</button>
    <button class="btn btn-secondary btn-small" type="button" onClick=${() => store.moveTo(ids)}>${t('act.move')}</button>
    <button class="btn btn-secondary btn-small" type="button" onClick=${() => store.remove(ids)}>${t('act.delete')}</button>
  </div>`;
}
