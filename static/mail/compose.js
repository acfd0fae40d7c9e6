// The compose tab: recipients with autocomplete, subject, Squire rich text or plain text,
// attachments by picker or drag and drop with upload progress, draft status, send (Ctrl+Enter).
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import Squire from 'squire-rte';
import { Icon } from './icons.js';
import { RecipientField } from './recipients.js';
import { sanitizeForEditor } from './sanitize.js';
import { fmtSize, htmlToText, textToHtml } from './util.js';

const html = htm.bind(h);

const FORMATS = [
  ['bold', 'B', 'bold', 'removeBold', 'compose.fmt_bold', 'b'],
  ['italic', 'I', 'italic', 'removeItalic', 'compose.fmt_italic', 'i'],
  ['underline', 'U', 'underline', 'removeUnderline', 'compose.fmt_underline', 'u'],
];

function Toolbar({ store, edRef, path }) {
  const t = store.t;
  const ed = () => edRef.current;
  const has = (tag) => !!ed() && ed().hasFormat(tag);
  const btn = (icon, label, fn, on) => html`<button type="button" class=${'tool' + (on ? ' is-on' : '')} aria-label=${label} title=${label}
    aria-pressed=${on ? 'true' : 'false'} onMouseDown=${(e) => e.preventDefault()} onClick=${() => { fn(); ed() && ed().focus(); }}><${Icon} name=${icon} /></button>`;
  const link = async () => {
    const url = await store.prompt({ title: t('compose.fmt_link'), label: t('compose.link_url'), value: 'https://' });
    if (url && /^(https?:|mailto:)/i.test(url.trim())) ed().makeLink(url.trim());
  };
  void path;
  return html`<div class="fmt-bar" role="toolbar" aria-label=${t('compose.formatting')}>
    ${FORMATS.map(([icon, tag, on, off, label]) => btn(icon, t(label), () => (has(tag) ? ed()[off]() : ed()[on]()), has(tag)))}
    <span class="tools-sep"></span>
    ${btn('ul', t('compose.fmt_ul'), () => (has('UL') ? ed().removeList() : ed().makeUnorderedList()), has('UL'))}
    ${btn('ol', t('compose.fmt_ol'), () => (has('OL') ? ed().removeList() : ed().makeOrderedList()), has('OL'))}
    ${btn('quote', t('compose.fmt_quote'), () => (has('BLOCKQUOTE') ? ed().decreaseQuoteLevel() : ed().increaseQuoteLevel()), has('BLOCKQUOTE'))}
    ${btn('link', t('compose.fmt_link'), link, has('A'))}
    <span class="tools-sep"></span>
    ${btn('undo', t('compose.fmt_clear'), () => ed().removeAllFormatting(), false)}
  </div>`;
}

function RichEditor({ store, c, edRef, onDropFiles }) {
  const el = useRef(null);
  const [path, setPath] = useState('');
  useEffect(() => {
    const ed = new Squire(el.current, {
      blockTag: 'DIV',
      sanitizeToDOMFragment: sanitizeForEditor, // pasted and loaded HTML goes through DOMPurify
      didError: () => {},
    });
    ed.setHTML(c.html || '<div><br></div>');
    let last = ed.getHTML();
    ed.addEventListener('input', () => {
      const now = ed.getHTML();
      if (now === last) return;
      last = now;
      store.updateCompose(c.key, { html: now });
    });
    ed.addEventListener('pathChange', (e) => setPath((e.detail && e.detail.path) || ''));
    ed.addEventListener('pasteImage', (e) => {
      const items = (e.detail && e.detail.clipboardData && e.detail.clipboardData.items) || [];
      const files = Array.from(items).map((i) => i.getAsFile && i.getAsFile()).filter(Boolean);
      if (files.length) onDropFiles(files);
    });
    edRef.current = ed;
    ed.moveCursorToStart();
    return () => {
      edRef.current = null;
      ed.destroy();
    };
  }, []);
  // content restored from another device or undo send: load it
  useEffect(() => {
    const ed = edRef.current;
    if (ed && c.html !== ed.getHTML() && document.activeElement !== el.current) ed.setHTML(c.html || '<div><br></div>');
  }, [c.html]);
  return html`
    <${Toolbar} store=${store} edRef=${edRef} path=${path} />
    <div class="editor rich" ref=${el} id=${'editor-' + c.key} role="textbox" aria-multiline="true" aria-label=${store.t('compose.body')}></div>
  `;
}

function AttachmentList({ store, c }) {
  const t = store.t;
  if (!c.attachments.length) return null;
  return html`<ul class="up-list" aria-label=${t('att.label')}>
    ${c.attachments.map(
      (a) => html`<li class=${'up up-' + a.status} key=${a.lid} data-name=${a.name}>
        <${Icon} name="clip" size=${16} />
        <span class="up-name" title=${a.name}>${a.name}</span>
        <span class="muted small">${fmtSize(a.size)}</span>
        ${a.status === 'uploading' &&
        html`<progress class="up-bar" max="100" value=${Math.round((a.progress || 0) * 100)} aria-label=${t('compose.uploading', { name: a.name })}></progress>
          <span class="small up-pct">${Math.round((a.progress || 0) * 100)}%</span>`}
        ${a.status === 'done' && html`<span class="small up-ok">${t('compose.upload_done')}</span>`}
        ${a.status === 'error' && html`<span class="small up-err" role="alert">${a.error}</span>`}
        <button type="button" class="tool" aria-label=${t('compose.remove_att', { name: a.name })} onClick=${() => store.removeAttachment(c.key, a.lid)}><${Icon} name="close" size=${14} /></button>
      </li>`
    )}
  </ul>`;
}

export function Compose({ store, ckey, active }) {
  const t = store.t;
  const c = store.s.compose[ckey];
  const edRef = useRef(null);
  const fileRef = useRef(null);
  const [drag, setDrag] = useState(false);
  const dragDepth = useRef(0);
  if (!c) return null;
  const up = (patch) => store.updateCompose(ckey, patch);
  const addFiles = (files) => store.addFiles(ckey, files);

  const isFileDrag = (e) => Array.from((e.dataTransfer && e.dataTransfer.types) || []).indexOf('Files') >= 0;
  const onDragEnter = (e) => {
    if (!isFileDrag(e)) return;
    e.preventDefault();
    dragDepth.current++;
    setDrag(true);
  };
  const onDragOver = (e) => {
    if (!isFileDrag(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  };
  const onDragLeave = () => {
    dragDepth.current = Math.max(0, dragDepth.current - 1);
    if (!dragDepth.current) setDrag(false);
  };
  const onDrop = (e) => {
    if (!isFileDrag(e)) return;
    e.preventDefault();
    e.stopPropagation();
    dragDepth.current = 0;
    setDrag(false);
    addFiles(e.dataTransfer.files);
  };
  const switchMode = () => {
    if (c.mode === 'rich') up({ mode: 'plain', text: htmlToText(c.html) });
    else up({ mode: 'rich', html: textToHtml(c.text) });
  };
  const onKeyDown = (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      store.send(ckey);
    }
  };
  let status = '';
  if (c.status === 'sending') status = t('compose.sending');
  else if (c.saving) status = t('compose.saving');
  else if (c.saveError) status = c.saveError;
  else if (c.savedAt) status = t('compose.saved_at', { time: new Date(c.savedAt).toTimeString().slice(0, 5) });
  return html`
    <section class=${'compose' + (drag ? ' is-drag' : '')} aria-label=${t('compose.title')} data-key=${ckey}
      onDragEnter=${onDragEnter} onDragOver=${onDragOver} onDragLeave=${onDragLeave} onDrop=${onDrop} onKeyDown=${onKeyDown}>
      <div class="compose-tools">
        <button class="btn btn-primary" type="button" id=${'send-' + ckey} data-action="send" disabled=${c.status === 'sending'} onClick=${() => store.send(ckey)}>
          <${Icon} name="sent" size=${16} /><span>${c.status === 'sending' ? t('compose.sending') : t('compose.send')}</span>
        </button>
        <button class="tool" type="button" data-action="attach" title=${t('compose.attach')} aria-label=${t('compose.attach')} onClick=${() => fileRef.current && fileRef.current.click()}>
          <${Icon} name="clip" /><span class="tool-text">${t('compose.attach')}</span>
        </button>
        <input type="file" multiple hidden ref=${fileRef} data-role="file" aria-hidden="true" tabindex="-1"
          onChange=${(e) => { addFiles(e.currentTarget.files); e.currentTarget.value = ''; }} />
        <button class="tool" type="button" data-action="mode" onClick=${switchMode} aria-label=${t(c.mode === 'rich' ? 'compose.to_plain' : 'compose.to_rich')}>
          <span class="tool-text">${t(c.mode === 'rich' ? 'compose.to_plain' : 'compose.to_rich')}</span>
        </button>
        <span class="tools-gap"></span>
        <span class="muted small compose-status" aria-live="polite" data-role="status">${status}</span>
        <button class="tool" type="button" data-action="discard" title=${t('compose.discard')} aria-label=${t('compose.discard')} onClick=${() => store.discardCompose(ckey)}><${Icon} name="trash" /></button>
      </div>
      ${c.error && html`<div class="msg msg-error compose-error" role="alert" data-role="error">${c.error}</div>`}
      <div class="compose-fields">
        <${RecipientField} store=${store} id=${'to-' + ckey} label=${t('hdr.to')} value=${c.to} onChange=${(v) => up({ to: v })} autoFocus=${active && !c.to.length} />
        ${!c.showCc && html`<button class="btn-link small cc-toggle" type="button" onClick=${() => up({ showCc: true })}>${t('compose.add_cc')}</button>`}
        ${c.showCc && html`
          <${RecipientField} store=${store} id=${'cc-' + ckey} label=${t('hdr.cc')} value=${c.cc} onChange=${(v) => up({ cc: v })} />
          <${RecipientField} store=${store} id=${'bcc-' + ckey} label=${t('hdr.bcc')} value=${c.bcc} onChange=${(v) => up({ bcc: v })} />`}
        <div class="subj-field">
          <label for=${'subj-' + ckey}>${t('hdr.subject')}</label>
          <input type="text" id=${'subj-' + ckey} class="subj-input" value=${c.subject} onInput=${(e) => up({ subject: e.currentTarget.value })} />
        </div>
      </div>
      <${AttachmentList} store=${store} c=${c} />
      <div class="compose-body">
        ${c.mode === 'rich'
          ? html`<${RichEditor} store=${store} c=${c} edRef=${edRef} onDropFiles=${addFiles} />`
          : html`<textarea class="editor plain" id=${'editor-' + ckey} aria-label=${t('compose.body')} value=${c.text}
              onInput=${(e) => up({ text: e.currentTarget.value })}></textarea>`}
      </div>
      ${drag && html`<div class="drop-hint" aria-hidden="true"><${Icon} name="clip" size=${32} /><p>${t('compose.drop_here')}</p></div>`}
    </section>
  `;
}
