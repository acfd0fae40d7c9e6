// The search box: the store's query syntax with suggestions for the word being typed
// (operators, folders, colours, correspondents for from:/to:/cc:) and recent searches.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { Icon } from './icons.js';
import { COLOURS } from './util.js';

const html = htm.bind(h);

const OPS = ['from:', 'to:', 'cc:', 'subject:', 'note:', 'file:', 'has:attachment', 'is:unread', 'is:read', 'is:pinned', 'is:flagged', 'in:', 'tag:', 'before:', 'after:'];
const ZH_COLOUR = { red: '红', orange: '橙', yellow: '黄', green: '绿', blue: '蓝', purple: '紫', grey: '灰' };

const narrow = () => typeof window.matchMedia === 'function' && window.matchMedia('(max-width: 760px)').matches;

function quoteVal(v) {
  return /[\s"]/.test(v) ? '"' + v.replace(/"/g, '') + '"' : v;
}

export function SearchBox({ store }) {
  const t = store.t;
  const s = store.s;
  const [q, setQ] = useState(s.search ? s.search.q : '');
  const [open, setOpen] = useState(false);
  const [hi, setHi] = useState(-1);
  const [people, setPeople] = useState([]);
  const ref = useRef(null);
  const seq = useRef(0);
  // closing on blur waits so a click on a suggestion lands first; focusing again
  // (the next search typed straight after one) must not be closed by that wait
  const blurTimer = useRef(0);
  // after a search the results take the focus, unless the user is typing again by then
  const listTimer = useRef(0);

  useEffect(() => {
    if (!s.search) setQ('');
    else if (s.search.q !== q && document.activeElement !== ref.current) setQ(s.search.q);
  }, [s.search && s.search.q, !!s.search]);

  useEffect(() => () => {
    clearTimeout(blurTimer.current);
    clearTimeout(listTimer.current);
  }, []);

  useEffect(() => {
    store.focusSearch = () => {
      if (ref.current) {
        ref.current.focus();
        ref.current.select();
      }
    };
  }, []);

  // the word under the cursor (the last one: suggestions complete the end of the query)
  const m = /(?:^|\s)(\S*)$/.exec(q);
  const word = m ? m[1] : '';
  const head = q.slice(0, q.length - word.length);

  useEffect(() => {
    const pm = /^(from|to|cc):(.+)$/i.exec(word);
    if (!pm) {
      setPeople([]);
      return;
    }
    const n = ++seq.current;
    const tm = setTimeout(() => {
      store.api
        .get('/api/v1/correspondents?limit=6&q=' + encodeURIComponent(pm[2].replace(/"/g, '')))
        .then((r) => n === seq.current && setPeople((r.items || []).map((a) => ({ text: pm[1].toLowerCase() + ':' + a.address, label: (a.name ? a.name + ' ' : '') + a.address }))))
        .catch(() => {});
    }, 120);
    return () => clearTimeout(tm);
  }, [word]);

  let sugg = [];
  const lw = word.toLowerCase();
  if (/^in:/i.test(word)) {
    const v = word.slice(3).toLowerCase();
    for (const f of s.folders) {
      const name = f.role && f.parent == null ? store.folderName(f) : f.path;
      if (!v || name.toLowerCase().indexOf(v) >= 0 || f.path.toLowerCase().indexOf(v) >= 0)
        sugg.push({ text: 'in:' + quoteVal(name), label: 'in:' + name });
    }
  } else if (/^tag:/i.test(word)) {
    for (const c of COLOURS) {
      const zh = ZH_COLOUR[c];
      const v = store.lang === 'en' ? c : zh;
      if (!word.slice(4) || v.indexOf(word.slice(4)) === 0 || c.indexOf(word.slice(4).toLowerCase()) === 0)
        sugg.push({ text: 'tag:' + v, label: 'tag:' + v + ' — ' + t('colour.' + c), dot: c });
    }
  } else if (/^(from|to|cc):/i.test(word)) {
    sugg = people;
  } else if (word) {
    sugg = OPS.filter((o) => o.indexOf(lw) === 0 && o !== lw).map((o) => ({ text: o, label: o + ' — ' + t('search.op.' + o.replace(/[:]/g, '_')) }));
  } else {
    sugg = OPS.map((o) => ({ text: o, label: o + ' — ' + t('search.op.' + o.replace(/[:]/g, '_')), op: true }));
    const recent = (s.prefs.recentSearches || []).slice(0, 5).map((r) => ({ text: r, label: r, recent: true, whole: true }));
    sugg = recent.concat(sugg);
  }
  sugg = sugg.slice(0, 12);

  const apply = (sg) => {
    const ends = /:$/.test(sg.text) ? '' : ' ';
    const next = sg.whole ? sg.text : head + sg.text + ends;
    setQ(next);
    setHi(-1);
    if (sg.whole) return run(next);
    if (ref.current) ref.current.focus();
  };

  const run = (query) => {
    const v = (query == null ? q : query).trim();
    setOpen(false);
    if (!v) return store.clearSearch();
    const recent = [v].concat((s.prefs.recentSearches || []).filter((r) => r !== v)).slice(0, 8);
    store.savePrefs({ recentSearches: recent });
    store.search(v);
    // the results take the keyboard (j/k, Enter) from here
    clearTimeout(listTimer.current);
    listTimer.current = setTimeout(() => {
      const el = document.activeElement;
      if (el !== ref.current && el !== document.body) return; // the user has moved on
      const list = document.querySelector('.tab-panel:not([hidden]) .vlist');
      if (list) list.focus();
    }, 50);
  };

  const onKeyDown = (e) => {
    if (e.key !== 'Enter') clearTimeout(listTimer.current); // typing again: keep the focus
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      if (!sugg.length) return;
      e.preventDefault();
      setOpen(true);
      const n = sugg.length;
      setHi(e.key === 'ArrowDown' ? (hi + 1) % n : (hi - 1 + n) % n);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (open && hi >= 0 && sugg[hi]) apply(sugg[hi]);
      else run();
    } else if (e.key === 'Tab' && open && sugg.length && word) {
      e.preventDefault();
      apply(sugg[hi >= 0 ? hi : 0]);
    } else if (e.key === 'Escape') {
      e.stopPropagation();
      if (open) setOpen(false);
      else {
        setQ('');
        store.clearSearch();
        ref.current.blur();
      }
    }
  };

  return html`
    <div class="search" role="search">
      <${Icon} name="search" cls="search-icon" />
      <input ref=${ref} id="search" type="search" value=${q} placeholder=${t(narrow() ? 'search.placeholder_short' : 'search.placeholder')} aria-label=${t('search.label')}
        autocomplete="off" spellcheck="false" role="combobox" aria-autocomplete="list" aria-controls="search-sugg"
        aria-expanded=${open && sugg.length ? 'true' : 'false'} aria-activedescendant=${open && hi >= 0 ? 'sg-' + hi : undefined}
        onInput=${(e) => { clearTimeout(listTimer.current); setQ(e.currentTarget.value); setOpen(true); setHi(-1); }}
        onFocus=${() => { clearTimeout(blurTimer.current); setOpen(true); }}
        onBlur=${() => { clearTimeout(blurTimer.current); blurTimer.current = setTimeout(() => setOpen(false), 150); }} onKeyDown=${onKeyDown} />
      ${open && sugg.length > 0 && html`
        <ul class="sugg search-sugg" id="search-sugg" role="listbox" aria-label=${t('search.suggestions')}>
          ${sugg.map(
            (sg, i) => html`<li id=${'sg-' + i} role="option" aria-selected=${i === hi ? 'true' : 'false'} class=${(i === hi ? 'on' : '') + (sg.recent ? ' recent' : '')}
              onMouseDown=${(e) => { e.preventDefault(); apply(sg); }}>
              ${sg.recent && html`<${Icon} name="restore" size=${14} />`}${sg.dot && html`<span class=${'dot c-' + sg.dot}></span>`}
              <span class=${sg.op ? 'mono' : ''}>${sg.label}</span>
            </li>`
          )}
        </ul>`}
    </div>
  `;
}
