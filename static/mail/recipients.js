// A recipient field: address chips plus an input with autocomplete from recent
// correspondents (GET /api/v1/correspondents?q=). Enter, Tab, comma or semicolon (also the
// full-width ，；) commit; Backspace on an empty input takes the last chip back for editing.
import { h } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { Icon } from './icons.js';
import { addrFull, addrName, parseAddrs, validAddr } from './util.js';

const html = htm.bind(h);

export function RecipientField({ store, id, label, value, onChange, autoFocus }) {
  const t = store.t;
  const [text, setText] = useState('');
  const [sugg, setSugg] = useState([]);
  const [hi, setHi] = useState(0);
  const [open, setOpen] = useState(false);
  const inputRef = useRef(null);
  const seq = useRef(0);
  const timer = useRef(null);

  // Focused as the field appears, before the browser paints it: an effect after the paint
  // could take the focus from a field the user had already clicked and typed into (the text
  // would land here). Never from a field that has the focus already.
  useLayoutEffect(() => {
    const el = inputRef.current;
    if (!autoFocus || !el) return;
    const a = document.activeElement;
    if (a && a !== document.body && a.matches && a.matches('input, textarea, select, [contenteditable="true"]')) return;
    el.focus();
  }, []);

  const lookup = (q) => {
    clearTimeout(timer.current);
    if (!q.trim()) {
      setSugg([]);
      setOpen(false);
      return;
    }
    timer.current = setTimeout(async () => {
      const n = ++seq.current;
      try {
        const r = await store.api.get('/api/v1/correspondents?limit=8&q=' + encodeURIComponent(q.trim()));
        if (n !== seq.current) return;
        const have = new Set(value.map((a) => a.address.toLowerCase()));
        const items = (r.items || []).filter((a) => !have.has(a.address.toLowerCase()));
        setSugg(items);
        setHi(0);
        setOpen(items.length > 0);
      } catch (e) {
        setSugg([]);
      }
    }, 120);
  };

  const commit = (raw) => {
    const got = parseAddrs(raw == null ? text : raw);
    if (!got.length) return false;
    const have = new Set(value.map((a) => a.address.toLowerCase()));
    const add = got.filter((a) => !have.has(a.address.toLowerCase()));
    onChange(value.concat(add));
    setText('');
    setSugg([]);
    setOpen(false);
    return true;
  };

  const pick = (a) => {
    onChange(value.concat([{ name: a.name || '', address: a.address }]));
    setText('');
    setSugg([]);
    setOpen(false);
    if (inputRef.current) inputRef.current.focus();
  };

  const onKeyDown = (e) => {
    if (open && sugg.length && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      setHi((hi + (e.key === 'ArrowDown' ? 1 : sugg.length - 1)) % sugg.length);
      return;
    }
    if (e.key === 'Enter' || (e.key === 'Tab' && text.trim())) {
      if (open && sugg[hi]) {
        e.preventDefault();
        pick(sugg[hi]);
        return;
      }
      if (text.trim()) {
        e.preventDefault();
        commit();
      }
      return;
    }
    if (e.key === 'Escape' && open) {
      e.stopPropagation();
      setOpen(false);
      return;
    }
    if (e.key === 'Backspace' && !text && value.length) {
      e.preventDefault();
      const last = value[value.length - 1];
      onChange(value.slice(0, -1));
      setText(addrFull(last));
    }
  };

  const onInput = (e) => {
    const v = e.currentTarget.value;
    if (/[,;，；]\s*$/.test(v)) {
      commit(v);
      return;
    }
    setText(v);
    lookup(v);
  };

  const onPaste = (e) => {
    const v = (e.clipboardData && e.clipboardData.getData('text')) || '';
    if (/[,;，；\n]/.test(v)) {
      e.preventDefault();
      commit(text + v);
    }
  };

  const listId = id + '-sugg';
  return html`
    <div class="rcpt-field" onClick=${() => inputRef.current && inputRef.current.focus()}>
      <label class="rcpt-label" for=${id}>${label}</label>
      <div class="rcpt-box">
        ${value.map(
          (a, i) => html`<span class=${'chip' + (validAddr(a.address) ? '' : ' chip-bad')} key=${a.address + i} title=${addrFull(a)}>
            <span>${addrName(a)}</span>
            <button type="button" class="chip-x" aria-label=${t('compose.remove_rcpt', { addr: a.address })}
              onClick=${(e) => { e.stopPropagation(); onChange(value.filter((_, j) => j !== i)); }}><${Icon} name="close" size=${12} /></button>
          </span>`
        )}
        <input id=${id} ref=${inputRef} type="text" class="rcpt-input" value=${text} autocomplete="off" autocapitalize="none" spellcheck="false"
          role="combobox" aria-autocomplete="list" aria-expanded=${open ? 'true' : 'false'} aria-controls=${listId}
          aria-activedescendant=${open && sugg[hi] ? listId + '-' + hi : undefined}
          onInput=${onInput} onKeyDown=${onKeyDown} onPaste=${onPaste}
          onBlur=${() => setTimeout(() => { setOpen(false); if (text.trim()) commit(); }, 150)} />
      </div>
      ${open && html`
        <ul class="sugg" id=${listId} role="listbox" aria-label=${t('compose.suggestions')}>
          ${sugg.map(
            (a, i) => html`<li id=${listId + '-' + i} role="option" aria-selected=${i === hi ? 'true' : 'false'} class=${i === hi ? 'on' : ''}
              onMouseDown=${(e) => { e.preventDefault(); pick(a); }}>
              <strong>${a.name || a.address}</strong>${a.name && html` <span class="muted small">${a.address}</span>`}
            </li>`
          )}
        </ul>`}
    </div>
  `;
}
