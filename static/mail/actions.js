// Actions on one or many messages: read/unread, flag, colour, pin, note, move, copy, delete,
// restore, junk. Optimistic: the list changes at once and goes back if the server says no.
import { MailStore } from './store.js';

function flagsWith(flags, name, on) {
  const f = (flags || []).filter((x) => x !== name);
  if (on) f.push(name);
  return f;
}

function applyLocal(it, change) {
  const o = Object.assign({}, it);
  if ('seen' in change) o.flags = flagsWith(o.flags, 'seen', change.seen);
  if ('flagged' in change) o.flags = flagsWith(o.flags, 'flagged', change.flagged);
  if ('colour' in change) o.colour = change.colour;
  if ('pinned' in change) o.pinned = change.pinned;
  if ('note' in change) {
    o.note = change.note;
    o.has_note = !!change.note;
  }
  return o;
}

Object.assign(MailStore.prototype, {
  // PATCH /api/v1/messages; opts.quiet: no toast on success
  async patch(ids, change, opts = {}) {
    ids = ids.filter((x) => x != null);
    if (!ids.length) return false;
    const before = new Map();
    for (const id of ids) {
      const it = this.items.get(id);
      if (it) {
        before.set(id, it);
        this.items.set(id, applyLocal(it, change));
      }
      const m = this.msgs.get(id);
      if (m) this.msgs.set(id, applyLocal(m, change));
    }
    this.adjustUnread(ids, change, before);
    this.emit();
    try {
      await this.api.patch('/api/v1/messages', Object.assign({ ids }, change));
      if (opts.toast) this.toast(opts.toast);
      if ('pinned' in change && !this.s.search && this.s.sort === 'date') this.refreshList();
      return true;
    } catch (e) {
      for (const [id, it] of before) this.items.set(id, it);
      this.loadFolders();
      this.toastError(e);
      this.emit();
      return false;
    }
  },

  // unread counts move with seen changes, before the next folder poll
  adjustUnread(ids, change, before) {
    if (!('seen' in change)) return;
    const delta = new Map();
    for (const id of ids) {
      const it = before.get(id);
      if (!it) continue;
      const was = (it.flags || []).indexOf('seen') >= 0;
      if (was === change.seen) continue;
      delta.set(it.folder, (delta.get(it.folder) || 0) + (change.seen ? -1 : 1));
    }
    if (!delta.size) return;
    this.s.folders = this.s.folders.map((f) =>
      delta.has(f.id) ? Object.assign({}, f, { unread: Math.max(0, f.unread + delta.get(f.id)) }) : f
    );
  },

  isSeen(id) {
    const it = this.items.get(id);
    return !!it && (it.flags || []).indexOf('seen') >= 0;
  },

  toggleSeen(ids) {
    const allSeen = ids.every((id) => this.isSeen(id));
    return this.patch(ids, { seen: !allSeen });
  },

  toggleFlag(ids) {
    const all = ids.every((id) => ((this.items.get(id) || {}).flags || []).indexOf('flagged') >= 0);
    return this.patch(ids, { flagged: !all });
  },

  togglePin(ids) {
    const all = ids.every((id) => (this.items.get(id) || {}).pinned);
    return this.patch(ids, { pinned: !all }, { toast: this.t(all ? 'act.unpinned' : 'act.pinned', { n: ids.length }) });
  },

  setColour(ids, colour) {
    return this.patch(ids, { colour: colour || null });
  },

  async saveNote(id, note) {
    const ok = await this.patch([id], { note: note || '' });
    if (ok) this.toast(this.t(note ? 'note.saved' : 'note.removed'));
    return ok;
  },

  // Moves leave the list at once; the toast offers to move them back.
  async move(ids, folderId, opts = {}) {
    ids = ids.filter((x) => x != null);
    if (!ids.length || !folderId) return;
    const from = new Map(ids.map((id) => [id, (this.items.get(id) || {}).folder]));
    if (ids.every((id) => from.get(id) === folderId)) return;
    this.dropFromView(ids);
    try {
      await this.api.patch('/api/v1/messages', { ids, move: folderId });
      for (const id of ids) {
        const it = this.items.get(id);
        if (it) this.items.set(id, Object.assign({}, it, { folder: folderId }));
      }
      const name = this.folderName(this.folder(folderId));
      this.toast(opts.text || this.t('act.moved', { n: ids.length, folder: name }), {
        action: { label: this.t('act.undo'), fn: () => this.moveBack(ids, from) },
        ms: 6000,
      });
    } catch (e) {
      this.toastError(e);
      this.refreshList();
    }
    this.loadFolders();
  },

  async moveBack(ids, from) {
    const groups = new Map();
    for (const id of ids) {
      const f = from.get(id);
      if (!f) continue;
      if (!groups.has(f)) groups.set(f, []);
      groups.get(f).push(id);
    }
    try {
      for (const [f, g] of groups) await this.api.patch('/api/v1/messages', { ids: g, move: f });
    } catch (e) {
      this.toastError(e);
    }
    this.refreshAll();
  },

  async copy(ids, folderId) {
    try {
      await this.api.patch('/api/v1/messages', { ids, copy: folderId });
      this.toast(this.t('act.copied', { n: ids.length, folder: this.folderName(this.folder(folderId)) }));
      this.loadFolders();
    } catch (e) {
      this.toastError(e);
    }
  },

  inRole(ids, role) {
    const f = this.s.folders.find((x) => x.role === role);
    return !!f && ids.every((id) => (this.items.get(id) || {}).folder === f.id);
  },

  // Outside Trash: to Trash (undo = restore). In Trash: gone (after a confirmation).
  async remove(ids) {
    ids = ids.filter((x) => x != null);
    if (!ids.length) return;
    const inTrash = this.inRole(ids, 'trash');
    if (inTrash) {
      const ok = await this.confirm({ title: this.t('act.expunge'), text: this.t('act.expunge_confirm', { n: ids.length }), danger: true });
      if (!ok) return;
    }
    this.dropFromView(ids);
    try {
      await this.api.call('DELETE', '/api/v1/messages', { json: { ids } });
      if (inTrash) this.toast(this.t('act.expunged', { n: ids.length }));
      else
        this.toast(this.t('act.deleted', { n: ids.length }), {
          action: { label: this.t('act.undo'), fn: () => this.restore(ids, true) },
          ms: 6000,
        });
    } catch (e) {
      this.toastError(e);
      this.refreshList();
    }
    this.loadFolders();
  },

  async restore(ids, quiet) {
    try {
      await this.api.patch('/api/v1/messages', { ids, restore: true });
      if (!quiet) this.toast(this.t('act.restored', { n: ids.length }));
      else this.dropFromView(ids);
    } catch (e) {
      this.toastError(e);
    }
    if (!quiet) this.dropFromView(ids);
    this.refreshAll();
  },

  junk(ids) {
    const f = this.s.folders.find((x) => x.role === 'junk');
    if (!f) return;
    if (this.inRole(ids, 'junk')) return this.move(ids, this.roleFolder('inbox'), { text: this.t('act.not_junk', { n: ids.length }) });
    return this.move(ids, f.id, { text: this.t('act.junked', { n: ids.length }) });
  },

  archive(ids) {
    const f = this.s.folders.find((x) => x.role === 'archive');
    if (f) return this.move(ids, f.id);
  },

  async moveTo(ids) {
    const to = await this.chooseFolder({ title: this.t('act.move_to') });
    if (to) this.move(ids, to);
  },

  // Take messages out of the list; the preview moves on to the next message.
  dropFromView(ids) {
    const s = this.s;
    const list = s.list;
    let next = null;
    if (list && s.preview && ids.indexOf(s.preview) >= 0) {
      const i = list.indexOf(s.preview);
      if (i >= 0) {
        for (let j = i + 1; j < list.length; j++) {
          const id = list.idAt(j);
          if (id != null && ids.indexOf(id) < 0) {
            next = id;
            break;
          }
        }
      }
    }
    if (list) list.remove(ids);
    s.selected = new Set(Array.from(s.selected).filter((x) => ids.indexOf(x) < 0));
    if (s.preview && ids.indexOf(s.preview) >= 0) {
      s.preview = null;
      if (next != null && s.pane !== 'reader') this.preview(next);
      else if (next != null) this.preview(next);
      if (next != null) {
        s.selected = new Set([next]);
        s.cursor = list.indexOf(next);
        s.anchor = s.cursor;
      }
    }
    // a mail open in a tab stays open; its folder marker changes
    this.emit();
  },

  // Ids an action applies to: the selection, else the previewed message.
  targetIds() {
    const s = this.s;
    if (s.selected.size) return Array.from(s.selected);
    return s.preview ? [s.preview] : [];
  },
});
