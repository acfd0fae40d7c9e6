// Compose: new, reply, reply all, forward (inline or as attachment), drafts saved every few
// seconds and when the tab or the page closes, uploads with progress, send with 5 s undo.
import { MailStore } from './store.js';
import { addrFull, escapeHtml, htmlToText, longDate, subjectPrefix, textToHtml, uid, validAddr } from './util.js';
import { sanitizeForQuote } from './sanitize.js';

const AUTOSAVE_MS = 4000;
const UNDO_S = 5;

function emptyModel(key) {
  return {
    key,
    to: [],
    cc: [],
    bcc: [],
    subject: '',
    html: '',
    text: '',
    mode: 'rich',
    attachments: [],
    draftId: null,
    inReplyTo: '',
    references: [],
    source: null,
    showCc: false,
    updated: Date.now(),
    dirty: false,
    status: '',
    error: '',
  };
}

function sameAddr(a, b) {
  return (a || '').toLowerCase() === (b || '').toLowerCase();
}

Object.assign(MailStore.prototype, {
  composeSnapshot(c) {
    return {
      to: c.to,
      cc: c.cc,
      bcc: c.bcc,
      subject: c.subject,
      html: c.html,
      text: c.text,
      mode: c.mode,
      attachments: c.attachments.filter((a) => a.id).map((a) => ({ id: a.id, name: a.name, size: a.size, type: a.type })),
      draftId: c.draftId,
      inReplyTo: c.inReplyTo,
      references: c.references,
      showCc: c.showCc,
      updated: c.updated,
    };
  },

  composeRestore(key, o) {
    const c = Object.assign(emptyModel(key), o || {});
    c.key = key;
    c.attachments = (c.attachments || []).map((a) => Object.assign({ lid: uid('a'), status: 'done', progress: 1 }, a));
    c.dirty = false;
    c.status = '';
    c.error = '';
    return c;
  },

  signatureText() {
    return (this.s.prefs.signatureAuto !== false && this.s.prefs.signature) || '';
  },

  sigHtml() {
    const sig = this.signatureText();
    if (!sig) return '';
    return '<div><br></div><div class="yz-signature">' + textToHtml('-- \n' + sig) + '</div>';
  },

  // Opens a compose tab. init: fields to start with.
  compose(init = {}) {
    const key = uid('c');
    const c = Object.assign(emptyModel(key), { mode: this.s.prefs.composeMode || 'rich' }, init);
    if (!init.html && !init.text) {
      c.html = '<div><br></div>' + this.sigHtml();
      c.text = this.signatureText() ? '\n\n-- \n' + this.signatureText() + '\n' : '';
    }
    this.s.compose = Object.assign({}, this.s.compose, { [key]: c });
    this.s.tabs = this.s.tabs.concat([{ key, kind: 'compose', title: c.subject }]);
    this.s.active = key;
    this.persist.touch(300);
    this.emit();
    return key;
  },

  async reply(id, all) {
    const m = await this.loadMessage(id).catch((e) => this.toastError(e));
    if (!m) return;
    const me = this.me.address;
    const from = m.reply_to && m.reply_to.length ? m.reply_to : m.from_all && m.from_all.length ? m.from_all : [m.from];
    let to = from.filter((a) => a && a.address);
    let cc = [];
    if (all) {
      const seen = new Set(to.map((a) => a.address.toLowerCase()));
      for (const a of (m.to || []).concat(m.cc || [])) {
        if (!a || !a.address || sameAddr(a.address, me) || seen.has(a.address.toLowerCase())) continue;
        seen.add(a.address.toLowerCase());
        cc.push(a);
      }
    }
    // replying to my own sent mail goes to its recipients
    if (to.length === 1 && sameAddr(to[0].address, me) && m.to && m.to.length) to = m.to.slice();
    const head = this.t('compose.quote_head', { date: longDate(m.sent_date || m.date, this.lang), name: addrFull(m.from) });
    const quoted = m.html ? sanitizeForQuote(m.html) : textToHtml(m.text || '');
    const refs = (m.references || []).slice();
    if (m.message_id) refs.push(m.message_id);
    this.compose({
      to: to.map(strip),
      cc: cc.map(strip),
      showCc: cc.length > 0,
      subject: subjectPrefix('Re', m.subject),
      html: '<div><br></div>' + this.sigHtml() + '<div><br></div><div>' + escapeHtml(head) + '</div><blockquote type="cite">' + quoted + '</blockquote>',
      text: '\n\n' + (this.signatureText() ? '-- \n' + this.signatureText() + '\n\n' : '') + head + '\n' + quoteText(m.text || htmlToText(m.html || '')),
      inReplyTo: m.message_id || '',
      references: refs,
      source: { id, kind: all ? 'reply_all' : 'reply' },
    });
  },

  async forward(id, asAttachment) {
    const m = await this.loadMessage(id).catch((e) => this.toastError(e));
    if (!m) return;
    const subject = subjectPrefix('Fwd', m.subject);
    let key;
    if (asAttachment) {
      key = this.compose({ subject, source: { id, kind: 'forward_att' } });
      try {
        const res = await fetch('/api/v1/messages/' + id + '/raw', { credentials: 'same-origin' });
        if (!res.ok) throw new Error('HTTP ' + res.status);
        const blob = await res.blob();
        const name = (m.subject || 'message').replace(/[\\/:*?"<>|]+/g, '_').slice(0, 80) + '.eml';
        this.addFiles(key, [new File([blob], name, { type: 'message/rfc822' })]);
      } catch (e) {
        this.toastError(e);
      }
      return;
    }
    const rows = [
      [this.t('hdr.from'), addrFull(m.from)],
      [this.t('hdr.date'), longDate(m.sent_date || m.date, this.lang)],
      [this.t('hdr.subject'), m.subject || ''],
      [this.t('hdr.to'), (m.to || []).map(addrFull).join(', ')],
    ];
    if (m.cc && m.cc.length) rows.push([this.t('hdr.cc'), m.cc.map(addrFull).join(', ')]);
    const headHtml = rows.map((r) => '<div><b>' + escapeHtml(r[0]) + '：</b>' + escapeHtml(r[1]) + '</div>').join('');
    const headText = rows.map((r) => r[0] + ': ' + r[1]).join('\n');
    const sep = this.t('compose.fwd_sep');
    key = this.compose({
      subject,
      html: '<div><br></div>' + this.sigHtml() + '<div><br></div><div>' + escapeHtml(sep) + '</div>' + headHtml + '<div><br></div>' + (m.html ? sanitizeForQuote(m.html) : textToHtml(m.text || '')),
      text: '\n\n' + sep + '\n' + headText + '\n\n' + (m.text || htmlToText(m.html || '')),
      source: { id, kind: 'forward' },
    });
    this.copyAttachments(key, id, (m.attachments || []).filter((a) => !a.inline));
  },

  // Re-upload a message's attachments so the new mail can carry them (forward, drafts).
  async copyAttachments(key, id, atts) {
    for (const a of atts) {
      try {
        const res = await fetch('/api/v1/messages/' + id + '/parts/' + encodeURIComponent(a.part), { credentials: 'same-origin' });
        if (!res.ok) throw new Error('HTTP ' + res.status);
        const blob = await res.blob();
        this.addFiles(key, [new File([blob], a.name || 'attachment', { type: a.type || 'application/octet-stream' })], true);
      } catch (e) {
        this.toastError(e);
      }
    }
  },

  // Opens a draft from the Drafts folder for editing.
  async editDraft(id) {
    const open = Object.values(this.s.compose).find((c) => c.draftId === id);
    if (open) return this.activate(open.key);
    const m = await this.loadMessage(id, true).catch((e) => this.toastError(e));
    if (!m) return;
    const key = this.compose({
      to: (m.to || []).map(strip),
      cc: (m.cc || []).map(strip),
      bcc: (m.bcc || []).map(strip),
      showCc: (m.cc || []).length + (m.bcc || []).length > 0,
      subject: m.subject || '',
      html: m.html ? sanitizeForQuote(m.html) : textToHtml(m.text || ''),
      text: m.text || '',
      mode: m.html ? 'rich' : 'plain',
      draftId: id,
      inReplyTo: m.in_reply_to || '',
      references: m.references || [],
    });
    this.copyAttachments(key, id, (m.attachments || []).filter((a) => !a.inline));
  },

  updateCompose(key, patch) {
    const c = this.s.compose[key];
    if (!c) return;
    Object.assign(c, patch, { updated: Date.now(), dirty: true });
    if ('subject' in patch) {
      const tab = this.s.tabs.find((t) => t.key === key);
      if (tab) tab.title = patch.subject;
    }
    if (c.error && !('error' in patch)) c.error = '';
    this.persist.touch(1500);
    this.scheduleAutosave(key);
    this.emit();
  },

  scheduleAutosave(key) {
    this.autosaveTimers = this.autosaveTimers || {};
    if (this.autosaveTimers[key]) return;
    this.autosaveTimers[key] = setTimeout(() => {
      delete this.autosaveTimers[key];
      this.saveDraft(key).catch(() => {});
    }, AUTOSAVE_MS);
  },

  draftBody(c) {
    const rich = c.mode === 'rich';
    return {
      to: c.to,
      cc: c.cc,
      bcc: c.bcc,
      subject: c.subject,
      text: rich ? htmlToText(c.html) : c.text,
      html: rich ? c.html : null,
      attachments: c.attachments.filter((a) => a.id).map((a) => a.id),
      in_reply_to: c.inReplyTo || undefined,
      references: c.references && c.references.length ? c.references : undefined,
    };
  },

  hasContent(c) {
    const body = c.mode === 'rich' ? htmlToText(c.html) : c.text;
    const sig = this.signatureText();
    const bare = body.replace(sig, '').replace(/--\s*/g, '').trim();
    return !!(c.to.length || c.cc.length || c.bcc.length || c.subject.trim() || bare || c.attachments.length);
  },

  async saveDraft(key, opts = {}) {
    const c = this.s.compose[key];
    if (!c || (!c.dirty && !opts.force) || c.status === 'sending') return;
    if (!this.hasContent(c)) return;
    if (c.saving) {
      c.saveAgain = true;
      return c.saving;
    }
    const stamp = c.updated;
    c.saving = (async () => {
      try {
        const body = this.draftBody(c);
        const r = c.draftId
          ? await this.api.put('/api/v1/drafts/' + c.draftId, body)
          : await this.api.post('/api/v1/drafts', body);
        if (r && r.id) c.draftId = r.id;
        if (c.updated === stamp) c.dirty = false;
        c.savedAt = Date.now();
        this.persist.touch(500);
      } catch (e) {
        if (e.status === 404 && c.draftId) {
          c.draftId = null; // the draft was sent or deleted elsewhere: start a new one
          c.saveAgain = true;
        } else c.saveError = this.errorText(e);
      } finally {
        c.saving = null;
        this.emit();
        if (c.saveAgain) {
          c.saveAgain = false;
          this.saveDraft(key);
        }
      }
    })();
    return c.saving;
  },

  saveAllDrafts() {
    return Promise.all(Object.keys(this.s.compose).map((k) => this.saveDraft(k)));
  },

  // The page is going away: keepalive requests for the drafts with unsaved edits.
  saveDraftsOnExit(exiting) {
    for (const c of Object.values(this.s.compose)) {
      if (!c.dirty || !this.hasContent(c) || c.status === 'sending') continue;
      if (!exiting) {
        this.saveDraft(c.key);
        continue;
      }
      const body = this.draftBody(c);
      if (JSON.stringify(body).length > 60000) continue;
      const url = c.draftId ? '/api/v1/drafts/' + c.draftId : '/api/v1/drafts';
      this.api.call(c.draftId ? 'PUT' : 'POST', url, { json: body, keepalive: true }).catch(() => {});
    }
  },

  // Closing a compose tab keeps its work as a draft (unless it is empty).
  async closeCompose(key) {
    const c = this.s.compose[key];
    if (!c) return true;
    if (this.autosaveTimers && this.autosaveTimers[key]) {
      clearTimeout(this.autosaveTimers[key]);
      delete this.autosaveTimers[key];
    }
    if (c.attachments.some((a) => a.status === 'uploading')) {
      const ok = await this.confirm({ title: this.t('compose.close'), text: this.t('compose.close_uploading') });
      if (!ok) return false;
      for (const a of c.attachments) if (a.abort) a.abort();
    }
    if (this.hasContent(c) && (c.dirty || !c.draftId)) {
      await this.saveDraft(key, { force: true });
      if (c.draftId) this.toast(this.t('compose.saved_draft'));
    }
    const rest = Object.assign({}, this.s.compose);
    delete rest[key];
    this.s.compose = rest;
    return true;
  },

  async discardCompose(key) {
    const c = this.s.compose[key];
    if (!c) return;
    const ok = await this.confirm({ title: this.t('compose.discard'), text: this.t('compose.discard_confirm'), danger: true });
    if (!ok) return;
    if (c.draftId) this.api.call('DELETE', '/api/v1/messages', { json: { ids: [c.draftId] } }).catch(() => {});
    c.dirty = false;
    c.draftId = null;
    c.to = c.cc = c.bcc = [];
    c.subject = c.text = c.html = '';
    c.attachments = [];
    const rest = Object.assign({}, this.s.compose);
    delete rest[key];
    this.s.compose = rest;
    this.s.tabs = this.s.tabs.filter((t) => t.key !== key);
    if (this.s.active === key) this.s.active = 'main';
    this.persist.touch(200);
    this.emit();
  },

  addFiles(key, files, quiet) {
    const c = this.s.compose[key];
    if (!c) return;
    for (const file of Array.from(files || [])) {
      const a = { lid: uid('a'), name: file.name || 'file', size: file.size, type: file.type || 'application/octet-stream', status: 'uploading', progress: 0 };
      c.attachments = c.attachments.concat([a]);
      const up = this.api.upload('/api/v1/uploads?name=' + encodeURIComponent(a.name), file, (loaded, total) => {
        a.progress = total ? loaded / total : 0;
        this.emit();
      });
      a.abort = up.abort;
      up.promise
        .then((r) => {
          a.id = r.id;
          a.status = 'done';
          a.progress = 1;
          delete a.abort;
          c.dirty = true;
          c.updated = Date.now();
          this.persist.touch(500);
          this.scheduleAutosave(key);
          if (!quiet) this.toast(this.t('compose.uploaded', { name: a.name }), { ms: 2500 });
          this.emit();
        })
        .catch((e) => {
          if (e.code === 'aborted') return;
          a.status = 'error';
          a.error = e.status === 413 ? this.t('err.too_large') : this.errorText(e);
          this.emit();
        });
    }
    this.emit();
  },

  removeAttachment(key, lid) {
    const c = this.s.compose[key];
    if (!c) return;
    const a = c.attachments.find((x) => x.lid === lid);
    if (a && a.abort) a.abort();
    this.updateCompose(key, { attachments: c.attachments.filter((x) => x.lid !== lid) });
  },

  async send(key) {
    const c = this.s.compose[key];
    if (!c || c.status === 'sending') return;
    const all = c.to.concat(c.cc, c.bcc);
    if (!all.length) return this.updateCompose(key, { error: this.t('compose.err_no_rcpt') });
    const bad = all.find((a) => !validAddr(a.address));
    if (bad) return this.updateCompose(key, { error: this.t('compose.err_bad_addr', { addr: bad.address }) });
    if (c.attachments.some((a) => a.status === 'uploading')) return this.updateCompose(key, { error: this.t('compose.err_uploading') });
    if (!c.subject.trim()) {
      const ok = await this.confirm({ title: this.t('compose.no_subject'), text: this.t('compose.no_subject_confirm') });
      if (!ok) return;
    }
    if (this.autosaveTimers && this.autosaveTimers[key]) {
      clearTimeout(this.autosaveTimers[key]);
      delete this.autosaveTimers[key];
    }
    if (c.saving) await c.saving.catch(() => {});
    c.status = 'sending';
    c.error = '';
    this.emit();
    let r;
    try {
      r = await this.api.post('/api/v1/messages/send', Object.assign(this.draftBody(c), { draft_id: c.draftId || undefined, delay_seconds: UNDO_S }));
    } catch (e) {
      c.status = '';
      c.error = this.t('compose.send_failed') + this.errorText(e);
      c.dirty = true;
      this.emit();
      this.saveDraft(key);
      return;
    }
    // sent (queued with a delay): the tab goes, the toast can bring it back
    const model = c;
    const rest = Object.assign({}, this.s.compose);
    delete rest[key];
    this.s.compose = rest;
    const idx = this.s.tabs.findIndex((t) => t.key === key);
    this.s.tabs = this.s.tabs.filter((t) => t.key !== key);
    if (this.s.active === key) this.s.active = (this.s.tabs[idx - 1] || this.s.tabs[0]).key;
    this.persist.touch(200);
    if (model.source && (model.source.kind === 'reply' || model.source.kind === 'reply_all')) {
      const it = this.items.get(model.source.id);
      if (it) this.items.set(model.source.id, Object.assign({}, it, { flags: (it.flags || []).concat(['answered']) }));
      this.api.patch('/api/v1/messages', { ids: [model.source.id], answered: true }).catch(() => {});
    }
    const toastId = this.toast(this.t('compose.sending_undo', { n: UNDO_S }), {
      ms: UNDO_S * 1000,
      kind: 'send',
      action: { label: this.t('act.undo'), fn: () => this.undoSend(model, r) },
    });
    model.toastId = toastId;
    setTimeout(() => {
      if (!model.undone) this.toast(this.t('compose.sent'), { ms: 2500 });
    }, UNDO_S * 1000 + 200);
    for (const ms of [UNDO_S * 1000 + 1500, UNDO_S * 1000 + 4000, UNDO_S * 1000 + 9000]) setTimeout(() => this.refreshAll(), ms);
  },

  async undoSend(model, r) {
    model.undone = true;
    try {
      const res = await this.api.post('/api/v1/outbox/' + encodeURIComponent(r.qid) + '/cancel', { message: r.id });
      model.draftId = (res && res.draft) || null;
    } catch (e) {
      model.undone = false;
      this.toastError(e, e.code === 'too_late' ? this.t('compose.too_late') : null);
      return;
    }
    model.status = '';
    model.dirty = false;
    this.s.compose = Object.assign({}, this.s.compose, { [model.key]: model });
    this.s.tabs = this.s.tabs.concat([{ key: model.key, kind: 'compose', title: model.subject }]);
    this.s.active = model.key;
    this.toast(this.t('compose.undone'));
    this.persist.touch(200);
    this.loadFolders();
    this.emit();
  },
});

function strip(a) {
  return { name: a.name || '', address: a.address };
}

function quoteText(text) {
  return String(text || '')
    .replace(/\s+$/, '')
    .split(/\r?\n/)
    .map((l) => '> ' + l)
    .join('\n') + '\n';
}
