// A small accessible drop-down menu (button + role=menu), closed by Escape or a click outside,
// and the colour tag menu built on it.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { Icon } from './icons.js';
import { COLOURS } from './util.js';

const html = htm.bind(h);

export function Menu({ id, label, text, icon, items, active, align, btnClass }) {
  const [open, setOpen] = useState(false);
  const ref = useRef(null);
  useEffect(() => {
    if (!open) return;
    const onDoc = (e) => {
      if (ref.current && !ref.current.contains(e.target)) setOpen(false);
    };
    const onKey = (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        setOpen(false);
        const b = ref.current && ref.current.querySelector('button');
        if (b) b.focus();
      }
    };
    document.addEventListener('mousedown', onDoc);
    document.addEventListener('keydown', onKey, true);
    const first = ref.current && ref.current.querySelector('[role^="menuitem"]');
    if (first) first.focus();
    return () => {
      document.removeEventListener('mousedown', onDoc);
      document.removeEventListener('keydown', onKey, true);
    };
  }, [open]);
  const onMenuKey = (e) => {
    const all = Array.from(ref.current.querySelectorAll('[role^="menuitem"]'));
    const i = all.indexOf(document.activeElement);
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = all.length;
      const j = e.key === 'ArrowDown' ? (i + 1) % n : (i - 1 + n) % n;
      if (all[j]) all[j].focus();
    }
  };
  return html`
    <div class=${'menu' + (align === 'right' ? ' menu-right' : '')} ref=${ref}>
      <button class=${(btnClass || 'tool') + (active ? ' is-active' : '')} type="button" id=${id} aria-haspopup="menu" aria-expanded=${open ? 'true' : 'false'}
        aria-label=${label} title=${label} onClick=${() => setOpen(!open)}>
        ${icon && html`<${Icon} name=${icon} />`}${text && html`<span class="tool-text">${text}</span>`}
      </button>
      ${open && html`
        <div class="menu-pop" role="menu" aria-label=${label} onKeyDown=${onMenuKey}>
          ${items.map((it, i) =>
            it.sep
              ? html`<div class="menu-sep" role="separator" key=${'s' + i}></div>`
              : html`<button key=${i} type="button" class=${'menu-item' + (it.danger ? ' danger' : '')} data-value=${it.value}
                  role=${it.checked !== undefined ? 'menuitemradio' : 'menuitem'} aria-checked=${it.checked !== undefined ? (it.checked ? 'true' : 'false') : undefined}
                  disabled=${it.disabled} onClick=${() => {
                    setOpen(false);
                    it.fn();
                  }}>
                  <span class="menu-check">${it.checked ? html`<${Icon} name="check" size=${16} />` : null}</span>
                  ${it.dot && html`<span class=${'dot c-' + it.dot}></span>`}
                  ${it.icon && html`<${Icon} name=${it.icon} size=${16} />`}
                  <span>${it.label}</span>
                </button>`
          )}
        </div>`}
    </div>
  `;
}

export function ColourMenu({ store, ids, withText, id }) {
  const t = store.t;
  const cur = ids.length === 1 ? (store.items.get(ids[0]) || {}).colour || null : undefined;
  const items = COLOURS.map((c) => ({ label: t('colour.' + c), dot: c, value: c, checked: cur === c, fn: () => store.setColour(ids, c) }));
  items.push({ sep: true });
  items.push({ label: t('colour.none'), value: 'none', fn: () => store.setColour(ids, null) });
  return html`<${Menu} id=${id || 'colour-menu'} label=${t('act.colour')} icon="palette" text=${withText ? t('act.colour') : null} items=${items} />`;
}
