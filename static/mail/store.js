// The mail app's state and the calls that change it. Components read store.s and call its
// methods; every change ends in emit(), which re-renders the app (Preact diffs it). Message
// actions, compose and sending live in actions.js and compose-model.js (mixed in below).
import { ListModel } from './listmodel.js';
import { Persist } from './persist.js';
import { ROLE_ORDER, uid } from './util.js';
import { startLive } from './live.js';

const MAIN = 'main';

export class MailStore {
  constructor({ api, t, lang, me, setLang, onProfile }) {
    this.api = api;
    this.t = t;
    this.lang = lang;
    this.me = me;
    this.setLangCb = setLang;
    this.onProfile = onProfile; // the header shows the display name
    this.listeners = new Set();
    this.items = new Map(); // id -> list item
    this.msgs = new Map(); // id -> full message
    this.persist = new Persist(api);
    this.persist.snapshot = () => this.snapshot();
    this.persist.onRemote = (st) => this.mergeRemote(st);
    this.s = {
      ready: false,
      error: '',
      folders: [],
      usage: null,
      folderId: null,
      sort: 'date',
      order: 'desc',
      filter: '',
      search: null, // {q, all}
      list: null,
      selected: new Set(),
      anchor: -1,
      cursor: -1, // keyboard focus row
      preview: null,
      tabs: [{ key: MAIN, kind: 'main' }],
      active: MAIN,
      compose: {}, // key -> compose model
      prefs: { signature: '', signatureAuto: true, trust: [], conversation: false, notify: false },
      settings: null, // /api/v1/settings/mail
      toasts: [],
      dialog: null,
      pane: 'list', // phone: folders | list | reader
      listTop: 0,
      restoreTop: 0,
      remoteOk: new Set(), // message ids whose remote content the user allowed (this session)
    };
    this.tick = 0;
  }

  // ---- rendering ----
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit() {
    this.tick++;
    if (this.emitQueued) return;
    this.emitQueued = true;
    Promise.resolve().then(() => {
      this.emitQueued = false;
      for (const fn of this.listeners) fn(this.tick);
    });
  }

  set(patch) {
    Object.assign(this.s, patch);
    this.emit();
  }

  // ---- start-up ----
  async start() {
    const [st] = await Promise.all([
      this.persist.load().catch(() => ({})),
      this.loadFolders(),
      this.loadSettings(),
    ]);
    this.restoreState(st || {});
    this.s.ready = true;
    this.emit();
    this.live = startLive(this);
    this.onHide = () => {
      if (document.visibilityState === 'hidden') this.flushAll();
    };
    document.addEventListener('visibilitychange', this.onHide);
    window.addEventListener('pagehide', () => this.flushAll(true));
  }

  flushAll(exiting) {
    this.saveDraftsOnExit && this.saveDraftsOnExit(exiting);
    if (exiting) this.persist.flushOnExit();
    else this.persist.save().catch(() => {});
  }

  // Before signing out: save drafts and the state, and wait for both.
  async beforeSignOut() {
    try {
      await Promise.race([
        Promise.all([this.saveAllDrafts ? this.saveAllDrafts() : null, this.persist.save()]),
        new Promise((r) => setTimeout(r, 4000)),
      ]);
    } catch (e) {
      /* sign out anyway */
    }
    if (this.live) this.live.stop();
  }

  // ---- saved state ----
  snapshot() {
    const s = this.s;
    const tabs = s.tabs.filter((t) => t.kind !== 'main').map((t) => {
      const o = { key: t.key, kind: t.kind, title: t.title || '' };
      if (t.id) o.id = t.id;
      return o;
    });
    const compose = {};
    for (const k of Object.keys(s.compose)) compose[k] = this.composeSnapshot(s.compose[k]);
    return {
      v: 1,
      tabs,
      active: s.active,
      folder: s.folderId,
      sort: s.sort,
      order: s.order,
      filter: s.filter,
      listTop: s.listTop,
      preview: s.preview,
      compose,
      prefs: s.prefs,
      lang: this.lang,
      updated: Date.now(),
    };
  }

  restoreState(st) {
    const s = this.s;
    if (st.prefs && typeof st.prefs === 'object') s.prefs = Object.assign({}, s.prefs, st.prefs);
    if (st.lang && st.lang !== this.lang && this.setLangCb) this.setLangCb(st.lang, true);
    const folderOk = (id) => s.folders.some((f) => f.id === id);
    s.folderId = folderOk(st.folder) ? st.folder : this.roleFolder('inbox');
    if (['date', 'from', 'subject', 'size'].indexOf(st.sort) >= 0) s.sort = st.sort;
    if (st.order === 'asc' || st.order === 'desc') s.order = st.order;
    if (typeof st.filter === 'string') s.filter = st.filter;
    s.restoreTop = Math.max(0, st.listTop | 0);
    if (st.compose && typeof st.compose === 'object') {
      for (const k of Object.keys(st.compose)) s.compose[k] = this.composeRestore(k, st.compose[k]);
    }
    const tabs = [{ key: MAIN, kind: 'main' }];
    for (const t of Array.isArray(st.tabs) ? st.tabs : []) {
      if (!t || !t.key || tabs.some((x) => x.key === t.key)) continue;
      if (t.kind === 'compose' && !s.compose[t.key]) continue;
      if (t.kind === 'mail' && !(t.id > 0)) continue;
      if (['mail', 'compose', 'settings'].indexOf(t.kind) < 0) continue;
      tabs.push({ key: t.key, kind: t.kind, id: t.id, title: t.title || '' });
    }
    // compose content without a tab (a crash between the two saves) gets its tab back
    for (const k of Object.keys(s.compose)) if (!tabs.some((x) => x.key === k)) tabs.push({ key: k, kind: 'compose', title: s.compose[k].subject || '' });
    s.tabs = tabs;
    s.active = tabs.some((x) => x.key === st.active) ? st.active : MAIN;
    this.openList();
    if (st.preview > 0) this.preview(st.preview, { quiet: true });
    for (const t of tabs) if (t.kind === 'mail') this.loadMessage(t.id).catch(() => {});
  }

  // Another device saved: keep this device's layout, take compose content edited there later.
  mergeRemote(remote) {
    const rc = (remote && remote.compose) || {};
    for (const k of Object.keys(rc)) {
      const mine = this.s.compose[k];
      if (mine && (rc[k].updated || 0) > (mine.updated || 0)) this.s.compose[k] = this.composeRestore(k, rc[k]);
    }
    if (remote && remote.prefs && remote.updated > (this.prefsUpdated || 0))
      this.s.prefs = Object.assign({}, this.s.prefs, remote.prefs);
    this.emit();
  }

  savePrefs(patch) {
    this.s.prefs = Object.assign({}, this.s.prefs, patch);
    this.prefsUpdated = Date.now();
    this.persist.touch(300);
    this.emit();
  }

  // The account keeps the language too (the sign-in page and mail the server writes, such as
  // delivery reports, use it); the saved state carries it to this user's other devices.
  setLang(lang) {
    if (this.setLangCb) this.setLangCb(lang);
    this.persist.touch(100);
    this.api.patch('/api/v1/me', { language: lang }).then((me) => { this.me.language = me.language; }).catch(() => {});
  }

  // ---- folders ----
  async loadFolders() {
    try {
      const r = await this.api.get('/api/v1/folders');
      const items = (r && r.items) || [];
      const prev = new Map(this.s.folders.map((f) => [f.id, f]));
      this.s.folders = items;
      this.s.usage = (r && r.usage) || null;
      this.s.error = '';
      this.emit();
      return { items, prev };
    } catch (e) {
      if (e.status === 0) this.set({ error: this.t('error.network') });
      return { items: this.s.folders, prev: new Map() };
    }
  }

  folder(id) {
    return this.s.folders.find((f) => f.id === id) || null;
  }

  roleFolder(role) {
    const f = this.s.folders.find((x) => x.role === role);
    return f ? f.id : this.s.folders.length ? this.s.folders[0].id : null;
  }

  folderName(f) {
    if (!f) return '';
    if (f.role && f.parent == null) return this.t('folder.' + f.role);
    return f.name;
  }

  // Folders as a tree in display order: system folders first, then the others by name.
  folderTree() {
    const byParent = new Map();
    for (const f of this.s.folders) {
      const p = f.parent == null ? 0 : f.parent;
      if (!byParent.has(p)) byParent.set(p, []);
      byParent.get(p).push(f);
    }
    const rank = (f) => {
      const i = f.parent == null && f.role ? ROLE_ORDER.indexOf(f.role) : -1;
      return i < 0 ? 100 : i;
    };
    const out = [];
    const walk = (p, depth) => {
      const kids = (byParent.get(p) || []).slice().sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name, 'zh-CN'));
      for (const f of kids) {
        const children = byParent.get(f.id) || [];
        out.push({ f, depth, hasKids: children.length > 0 });
        walk(f.id, depth + 1);
      }
    };
    walk(0, 0);
    return out;
  }

  async createFolder(parent) {
    const name = await this.prompt({ title: this.t(parent ? 'folder.new_sub' : 'folder.new'), label: this.t('folder.name') });
    if (!name) return;
    try {
      await this.api.post('/api/v1/folders', parent ? { name, parent } : { name });
      await this.loadFolders();
      this.toast(this.t('folder.created', { name }));
    } catch (e) {
      this.toastError(e, e.status === 409 ? this.t('folder.exists') : null);
    }
  }

  async renameFolder(id) {
    const f = this.folder(id);
    if (!f) return;
    const name = await this.prompt({ title: this.t('folder.rename'), label: this.t('folder.name'), value: f.name });
    if (!name || name === f.name) return;
    try {
      await this.api.patch('/api/v1/folders/' + id, { name });
      await this.loadFolders();
    } catch (e) {
      this.toastError(e, e.status === 409 ? this.t('folder.exists') : null);
    }
  }

  async moveFolder(id) {
    const f = this.folder(id);
    if (!f) return;
    const to = await this.chooseFolder({ title: this.t('folder.move_to', { name: f.name }), exclude: id, allowRoot: true });
    if (to === undefined) return;
    try {
      await this.api.patch('/api/v1/folders/' + id, { parent: to || null });
      await this.loadFolders();
    } catch (e) {
      this.toastError(e);
    }
  }

  async deleteFolder(id) {
    const f = this.folder(id);
    if (!f) return;
    const ok = await this.confirm({ title: this.t('folder.delete'), text: this.t('folder.delete_confirm', { name: f.name }), danger: true });
    if (!ok) return;
    try {
      await this.api.del('/api/v1/folders/' + id);
      if (this.s.folderId === id) this.selectFolder(this.roleFolder('inbox'));
      await this.loadFolders();
    } catch (e) {
      this.toastError(e);
    }
  }

  // ---- the list ----
  selectFolder(id) {
    if (id == null) return;
    this.s.folderId = id;
    this.s.search = null;
    this.s.restoreTop = 0;
    this.s.listTop = 0;
    this.s.pane = 'list';
    this.s.active = MAIN;
    this.openList();
    this.persist.touch();
  }

  setView(patch) {
    Object.assign(this.s, patch);
    this.s.restoreTop = 0;
    this.openList();
    this.persist.touch();
  }

  listKey() {
    const s = this.s;
    if (s.search) return 'q:' + (s.search.all ? '' : s.folderId) + ':' + s.search.q + ':' + s.search.order;
    return 'f:' + s.folderId + ':' + s.sort + ':' + s.order + ':' + s.filter;
  }

  openList() {
    const s = this.s;
    if (s.list) s.list.invalidate();
    const key = this.listKey();
    let fetchPage;
    if (s.search) {
      const { q, all, order } = s.search;
      const folder = s.folderId;
      fetchPage = async ({ cursor, limit }) => {
        const p = new URLSearchParams({ q, limit: String(Math.min(limit, 200)) });
        if (!all && folder) p.set('folder', String(folder));
        if (order === 'relevance') p.set('order', 'relevance');
        if (cursor) p.set('cursor', cursor);
        const r = await this.api.get('/api/v1/search?' + p.toString());
        return { items: r.items || [], next: r.next, total: -1, pending: r.pending || 0, estimate: r.total };
      };
    } else {
      const { folderId, sort, order, filter } = s;
      fetchPage = async ({ cursor, limit, reverse, at }) => {
        const p = new URLSearchParams({ folder: String(folderId), limit: String(limit), sort });
        p.set('order', reverse ? (order === 'asc' ? 'desc' : 'asc') : order);
        if (filter) p.set('filter', filter);
        if (cursor) p.set('cursor', cursor);
        if (at != null) p.set('at', String(at));
        return this.api.get('/api/v1/messages?' + p.toString());
      };
    }
    const list = new ListModel(key, fetchPage, { canReverse: !s.search, canJump: !s.search });
    list.onItems = (items) => {
      for (const it of items) this.items.set(it.id, it);
    };
    list.onChange = () => {
      if (list === this.s.list) {
        this.afterListChange(list);
        this.emit();
      }
    };
    s.list = list;
    s.selected = new Set();
    s.anchor = -1;
    s.cursor = -1;
    list.ensure(0, Math.max(60, s.restoreTop + 60));
    this.emit();
  }

  afterListChange(list) {
    // search results that the indexer has not caught up with yet: ask again shortly
    if (this.s.search && list.extra.pending > 0 && !this.searchRetry) {
      this.searchRetries = (this.searchRetries || 0) + 1;
      if (this.searchRetries <= 8) {
        this.searchRetry = setTimeout(() => {
          this.searchRetry = null;
          if (list === this.s.list) list.refresh();
        }, 700);
      }
    }
  }

  refreshList() {
    if (this.s.list) this.s.list.refresh();
  }

  async refreshAll() {
    const { items, prev } = await this.loadFolders();
    const cur = items.find((f) => f.id === this.s.folderId);
    const old = prev.get(this.s.folderId);
    if (this.s.search || !old || !cur || cur.total !== old.total || cur.unread !== old.unread || cur.uidnext !== old.uidnext)
      this.refreshList();
    return { items, prev };
  }

  search(q, opts = {}) {
    q = (q || '').trim();
    this.searchRetries = 0;
    if (!q) return this.clearSearch();
    this.s.search = { q, all: opts.all !== undefined ? opts.all : this.s.search ? this.s.search.all : true, order: opts.order || 'date' };
    this.s.active = MAIN;
    this.s.pane = 'list';
    this.s.restoreTop = 0;
    this.openList();
  }

  clearSearch() {
    if (!this.s.search) return;
    this.s.search = null;
    this.openList();
  }

  setListTop(i) {
    if (this.s.listTop !== i) {
      this.s.listTop = i;
      this.persist.touch(1500);
    }
  }

  // ---- selection (click, ctrl/cmd-click, shift-click, keyboard) ----
  clickRow(index, ev) {
    const s = this.s;
    const list = s.list;
    const id = list && list.idAt(index);
    if (id == null) return;
    const multi = ev && (ev.ctrlKey || ev.metaKey);
    if (ev && ev.shiftKey && s.anchor >= 0) {
      const [a, b] = s.anchor < index ? [s.anchor, index] : [index, s.anchor];
      const sel = multi ? new Set(s.selected) : new Set();
      for (let i = a; i <= b; i++) if (list.idAt(i) != null) sel.add(list.idAt(i));
      s.selected = sel;
      s.cursor = index;
    } else if (multi) {
      const sel = new Set(s.selected);
      if (sel.has(id)) sel.delete(id);
      else sel.add(id);
      s.selected = sel;
      s.anchor = index;
      s.cursor = index;
    } else {
      s.selected = new Set([id]);
      s.anchor = index;
      s.cursor = index;
      this.preview(id);
      s.pane = 'reader';
    }
    if (s.selected.size > 1) s.preview = null;
    this.emit();
  }

  moveCursor(delta, extend) {
    const s = this.s;
    const list = s.list;
    if (!list) return;
    const n = list.length;
    let i = Math.min(n - 1, Math.max(0, (s.cursor < 0 ? -1 : s.cursor) + delta));
    if (list.idAt(i) == null) return;
    if (extend) this.clickRow(i, { shiftKey: true });
    else this.clickRow(i, null);
    s.scrollTo = i;
    this.emit();
  }

  selectAll() {
    const list = this.s.list;
    if (!list) return;
    this.s.selected = new Set(list.loadedIds());
    this.s.preview = null;
    this.emit();
  }

  clearSelection() {
    this.s.selected = new Set();
    this.emit();
  }

  selectedIds() {
    return Array.from(this.s.selected);
  }

  // ---- messages ----
  async loadMessage(id, force) {
    if (!force && this.msgs.has(id)) return this.msgs.get(id);
    const m = await this.api.get('/api/v1/messages/' + id);
    this.msgs.set(id, m);
    this.items.set(id, Object.assign({}, this.items.get(id) || {}, pickItem(m)));
    for (const t of this.s.tabs) if (t.kind === 'mail' && t.id === id && !t.title) t.title = m.subject;
    this.emit();
    return m;
  }

  preview(id, opts = {}) {
    this.s.preview = id;
    if (!opts.quiet) this.persist.touch();
    this.loadMessage(id)
      .then((m) => {
        if (this.s.preview === id && m.flags.indexOf('seen') < 0) this.patch([id], { seen: true }, { quiet: true });
      })
      .catch((e) => {
        if (e.status === 404) {
          if (this.s.preview === id) this.set({ preview: null });
        } else this.toastError(e);
      });
    this.emit();
  }

  // ---- tabs ----
  openTab(kind, props = {}) {
    const s = this.s;
    let tab = null;
    if (kind === 'mail') tab = s.tabs.find((t) => t.kind === 'mail' && t.id === props.id);
    if (kind === 'settings') tab = s.tabs.find((t) => t.kind === 'settings');
    if (!tab) {
      tab = Object.assign({ key: kind === 'settings' ? 'settings' : uid(kind[0]), kind }, props);
      s.tabs = s.tabs.concat([tab]);
    }
    s.active = tab.key;
    if (kind === 'mail') {
      const m = this.msgs.get(props.id) || this.items.get(props.id);
      if (m && !tab.title) tab.title = m.subject;
      this.loadMessage(props.id)
        .then((msg) => {
          if (msg.flags.indexOf('seen') < 0) this.patch([props.id], { seen: true }, { quiet: true });
        })
        .catch((e) => this.toastError(e));
    }
    this.persist.touch();
    this.emit();
    return tab;
  }

  activate(key) {
    if (!this.s.tabs.some((t) => t.key === key)) return;
    this.s.active = key;
    this.persist.touch();
    this.emit();
  }

  async closeTab(key) {
    const s = this.s;
    const i = s.tabs.findIndex((t) => t.key === key);
    if (i <= 0) return;
    const tab = s.tabs[i];
    if (tab.kind === 'compose' && this.closeCompose && !(await this.closeCompose(key))) return;
    s.tabs = s.tabs.filter((t) => t.key !== key);
    if (s.active === key) s.active = (s.tabs[i] || s.tabs[i - 1] || s.tabs[0]).key;
    this.persist.touch(300);
    this.emit();
  }

  cycleTab(delta) {
    const s = this.s;
    const i = s.tabs.findIndex((t) => t.key === s.active);
    const n = s.tabs.length;
    this.activate(s.tabs[(i + delta + n) % n].key);
  }

  // ---- settings (forwarding banner needs them at start) ----
  async loadSettings() {
    try {
      const r = await this.api.get('/api/v1/settings/mail');
      this.set({ settings: r });
    } catch (e) {
      /* the settings page shows the error */
    }
  }

  // ---- toasts and dialogs ----
  toast(text, opts = {}) {
    const id = uid('t');
    const t = Object.assign({ id, text, kind: 'info', ms: 3500 }, opts);
    this.s.toasts = this.s.toasts.slice(-2).concat([t]);
    if (t.ms) setTimeout(() => this.dismiss(id), t.ms);
    this.emit();
    return id;
  }

  dismiss(id) {
    this.s.toasts = this.s.toasts.filter((x) => x.id !== id);
    this.emit();
  }

  errorText(e) {
    if (!e) return this.t('error.generic');
    if (e.status === 0) return this.t('error.network');
    const key = 'err.' + e.code;
    if (this.t.has(key)) return this.t(key) + (e.message && e.code === 'bad_request' ? '（' + e.message + '）' : '');
    return this.t('error.generic') + (e.message ? ' (' + e.message + ')' : '');
  }

  toastError(e, text) {
    this.toast(text || this.errorText(e), { kind: 'error', ms: 7000 });
  }

  dialog(d) {
    return new Promise((resolve) => {
      this.set({
        dialog: Object.assign({}, d, {
          done: (v) => {
            this.set({ dialog: null });
            resolve(v);
          },
        }),
      });
    });
  }

  prompt(o) {
    return this.dialog(Object.assign({ kind: 'prompt' }, o));
  }

  confirm(o) {
    return this.dialog(Object.assign({ kind: 'confirm' }, o));
  }

  chooseFolder(o) {
    return this.dialog(Object.assign({ kind: 'folder' }, o));
  }
}

export function pickItem(m) {
  const o = {};
  for (const k of ['id', 'folder', 'uid', 'subject', 'from', 'to', 'cc', 'date', 'size', 'flags', 'keywords', 'colour', 'pinned', 'has_note', 'has_attachments', 'snippet', 'thread'])
    if (k in m) o[k] = m[k];
  return o;
}

export const MAIN_TAB = MAIN;
