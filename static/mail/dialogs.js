// Toasts (with an action such as Undo), the modal dialog (prompt, confirm, choose a folder)
// and the keyboard shortcut help.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { Icon, folderIcon } from './icons.js';

const html = htm.bind(h);

export function Toasts({ store }) {
  const t = store.t;
  return html`<div class="toasts" role="status" aria-live="polite">
    ${store.s.toasts.map(
      (x) => html`<div class=${'toast toast-' + x.kind} key=${x.id}>
        <span class="toast-text">${x.text}</span>
        ${x.action && html`<button class="btn-link toast-act" type="button" onClick=${() => { store.dismiss(x.id); x.action.fn(); }}>${x.action.label}</button>`}
        <button class="tool toast-x" type="button" aria-label=${t('act.close')} onClick=${() => store.dismiss(x.id)}><${Icon} name="close" size=${14} /></button>
      </div>`
    )}
  </div>`;
}

function FolderChoice({ store, d }) {
  const t = store.t;
  const nodes = store.folderTree().filter((n) => n.f.id !== d.exclude);
  return html`<ul class="choose-list" role="listbox" aria-label=${d.title}>
    ${d.allowRoot && html`<li><button type="button" class="choose" onClick=${() => d.done(0)}><${Icon} name="folder" /> ${t('folder.root')}</button></li>`}
    ${nodes.map(
      (n) => html`<li key=${n.f.id}><button type="button" class=${'choose depth-' + Math.min(n.depth, 6)} data-folder=${n.f.id} onClick=${() => d.done(n.f.id)}>
        <${Icon} name=${folderIcon(n.f.role)} /> ${store.folderName(n.f)}</button></li>`
    )}
  </ul>`;
}

// Each dialog gets a box of its own (keyed by the dialog), so the prompt's value starts as
// d.value at the first render: set from an effect, it could overwrite what was typed in the
// first frame.
const dialogIds = new WeakMap();
let lastDialogId = 0;

export function Dialog({ store }) {
  const d = store.s.dialog;
  if (!d) return null;
  if (!dialogIds.has(d)) dialogIds.set(d, ++lastDialogId);
  return html`<${DialogBox} key=${dialogIds.get(d)} store=${store} d=${d} />`;
}

function DialogBox({ store, d }) {
  const t = store.t;
  const [val, setVal] = useState(d.value || '');
  const ref = useRef(null);
  const boxRef = useRef(null);
  useEffect(() => {
    const prev = document.activeElement;
    setTimeout(() => {
      const el = ref.current || (boxRef.current && boxRef.current.querySelector('button'));
      if (el) {
        el.focus();
        if (el.select && el.value === (d.value || '')) el.select(); // not what was typed since
      }
    });
    return () => prev && prev.focus && prev.focus();
  }, []);
  const cancel = () => d.done(d.kind === 'confirm' ? false : d.kind === 'folder' ? undefined : null);
  const ok = () => d.done(d.kind === 'prompt' ? val.trim() : true);
  const onKey = (e) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      cancel();
    }
    if (e.key === 'Enter' && d.kind !== 'folder' && e.target.tagName !== 'BUTTON') {
      e.preventDefault();
      ok();
    }
  };
  return html`<div class="modal-back" onClick=${cancel}>
    <div class="modal" role=${d.kind === 'confirm' ? 'alertdialog' : 'dialog'} aria-modal="true" aria-labelledby="dlg-title" ref=${boxRef}
      onClick=${(e) => e.stopPropagation()} onKeyDown=${onKey}>
      <h2 id="dlg-title">${d.title}</h2>
      ${d.text && html`<p>${d.text}</p>`}
      ${d.kind === 'prompt' && html`<label class="field"><span>${d.label}</span>
        <input type="text" id="dlg-input" ref=${ref} value=${val} onInput=${(e) => setVal(e.currentTarget.value)} /></label>`}
      ${d.kind === 'folder' && html`<${FolderChoice} store=${store} d=${d} />`}
      <div class="btn-row modal-acts">
        ${d.kind !== 'folder' && html`<button class=${'btn ' + (d.danger ? 'btn-danger' : 'btn-primary')} id="dlg-ok" type="button" onClick=${ok}>${d.okLabel || t('act.ok')}</button>`}
        <button class="btn btn-secondary" id="dlg-cancel" type="button" onClick=${cancel}>${t('act.cancel')}</button>
      </div>
    </div>
  </div>`;
}

const KEYS = [
  ['j / ↓', 'keys.next'],
  ['k / ↑', 'keys.prev'],
  ['Enter / o', 'keys.open'],
  ['c', 'keys.compose'],
  ['r', 'keys.reply'],
  ['a', 'keys.reply_all'],
  ['f', 'keys.forward'],
  ['u', 'keys.toggle_read'],
  ['s', 'keys.flag'],
  ['p', 'keys.pin'],
  ['e', 'keys.archive'],
  ['Delete / #', 'keys.delete'],
  ['v', 'keys.move'],
  ['x', 'keys.select'],
  ['Ctrl + A', 'keys.select_all'],
  ['/', 'keys.search'],
  ['g i', 'keys.inbox'],
  ['[ / ]', 'keys.tabs'],
  ['w', 'keys.close_tab'],
  ['Ctrl + Enter', 'keys.send'],
  ['Esc', 'keys.escape'],
  ['?', 'keys.help'],
];

export function KeysHelp({ store, onClose }) {
  const t = store.t;
  return html`<div class="modal-back" onClick=${onClose}>
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="keys-title" onClick=${(e) => e.stopPropagation()}
      onKeyDown=${(e) => e.key === 'Escape' && onClose()}>
      <h2 id="keys-title">${t('keys.title')}</h2>
      <dl class="keys">${KEYS.map(([k, v]) => html`<dt><kbd>${k}</kbd></dt><dd>${t(v)}</dd>`)}</dl>
      <div class="btn-row modal-acts"><button class="btn btn-secondary" type="button" id="keys-close" onClick=${onClose}>${t('act.close')}</button></div>
    </div></div>`;
}
