// The app's saved state on the server (GET/PUT /api/v1/ui-state, ETag / If-Match): open tabs,
// the active tab, unsent compose content, the folder and list position, preferences. Saved a
// moment after each change and when the page goes away; a 412 (another device wrote) is
// merged: this device's layout wins, compose content merges by newest edit.
import { ApiError } from '../api.js';

const URL = '/api/v1/ui-state';
const MAX_BYTES = 550 * 1024; // the server takes 600 KB

export class Persist {
  constructor(api) {
    this.api = api;
    this.version = 0;
    this.timer = null;
    this.saving = null;
    this.pending = false;
    this.snapshot = null; // () => state object
    this.onRemote = null; // (state) => void: called with the other device's state on 412
    this.lastSaved = '';
    this.status = 'idle';
  }

  async load() {
    try {
      const r = await this.api.get(URL);
      this.version = (r && r.version) || 0;
      const st = (r && r.state) || {};
      this.lastSaved = JSON.stringify(st);
      return st;
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) return {};
      throw e;
    }
  }

  // Ask for a save soon (debounced).
  touch(ms = 800) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), ms);
  }

  body() {
    let st = this.snapshot ? this.snapshot() : {};
    let text = JSON.stringify(st);
    if (text.length > MAX_BYTES && st.compose) {
      // too big: keep the layout, drop the largest compose bodies (they are in Drafts too)
      const keys = Object.keys(st.compose).sort((a, b) => JSON.stringify(st.compose[b]).length - JSON.stringify(st.compose[a]).length);
      for (const k of keys) {
        if (text.length <= MAX_BYTES) break;
        st.compose[k] = Object.assign({}, st.compose[k], { html: '', text: '', truncated: true });
        text = JSON.stringify(st);
      }
    }
    return { st, text };
  }

  async save() {
    clearTimeout(this.timer);
    if (this.saving) {
      this.pending = true;
      return this.saving;
    }
    const { st, text } = this.body();
    if (text === this.lastSaved) return;
    this.saving = this.put(st, text, true).finally(() => {
      this.saving = null;
      if (this.pending) {
        this.pending = false;
        this.save();
      }
    });
    return this.saving;
  }

  async put(st, text, retry) {
    try {
      this.status = 'saving';
      const r = await this.api.put(URL, { state: st }, { headers: { 'If-Match': '"' + this.version + '"' } });
      this.version = (r && r.version) || this.version + 1;
      this.lastSaved = text;
      this.status = 'saved';
    } catch (e) {
      if (e instanceof ApiError && e.status === 412 && retry) {
        // another device saved meanwhile: read it, let the app merge, write again
        const r = await this.api.get(URL);
        this.version = (r && r.version) || 0;
        if (this.onRemote) this.onRemote((r && r.state) || {});
        const b = this.body();
        return this.put(b.st, b.text, false);
      }
      this.status = 'error';
      throw e;
    }
  }

  // The page is going away: one keepalive PUT (the browser finishes it after unload).
  flushOnExit() {
    clearTimeout(this.timer);
    const { st, text } = this.body();
    if (text === this.lastSaved || text.length > 60 * 1024) return;
    this.api.put(URL, { state: st }, { headers: { 'If-Match': '"' + this.version + '"' }, keepalive: true }).catch(() => {});
    this.lastSaved = text;
    this.version++;
  }
}
