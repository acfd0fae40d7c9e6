// One folder view (folder + sort + order + filter) or one search, paged by keyset cursors.
// Rows are known by position: the head is loaded from the top in the chosen order, the tail
// from the bottom in the opposite order (so the end of a 100,000-message folder is one request
// away). Near a loaded edge the list walks on from it; a jump further into a folder (dragging
// the scroll bar) asks for that position (?at=N) and grows that range forward from there.
const PAGE = 100;
const BULK = 500;

export class ListModel {
  // fetchPage(params) -> {items, next, total}; params: {cursor, limit, reverse}
  constructor(key, fetchPage, opts = {}) {
    this.key = key;
    this.fetchPage = fetchPage;
    this.canReverse = opts.canReverse !== false;
    this.rows = []; // position -> id (sparse)
    this.total = -1; // -1 until the first page
    this.headLen = 0;
    this.headNext = undefined; // undefined: not loaded; null: no more
    this.tailLen = 0;
    this.tailNext = undefined;
    this.mid = null; // {start, len, next}: the range loaded by the last jump
    this.canJump = opts.canJump === true;
    this.busy = false;
    this.error = null;
    this.loaded = false;
    this.want = null; // [from, to) the view asks for
    this.onChange = null;
    this.onItems = null;
    this.extra = {}; // e.g. search "pending"
    this.gen = 0;
  }

  get complete() {
    return this.headNext === null || (this.total >= 0 && this.headLen + this.tailLen >= this.total);
  }

  // Number of rows the view should reserve space for.
  get length() {
    if (this.total >= 0) return this.total;
    return this.headLen + (this.headNext ? PAGE : 0);
  }

  idAt(i) {
    return this.rows[i];
  }

  indexOf(id) {
    return this.rows.indexOf(id);
  }

  loadedIds() {
    return this.rows.filter((x) => x != null);
  }

  // The view shows [from, to): load what is missing, nearest edge first.
  ensure(from, to) {
    this.want = [Math.max(0, from), to];
    this.pump();
  }

  async pump() {
    if (this.busy) return;
    const gen = this.gen;
    while (gen === this.gen) {
      const step = this.nextStep();
      if (!step) break;
      this.busy = true;
      try {
        const r = await this.fetchPage(step);
        if (gen !== this.gen) return;
        this.apply(step, r);
        this.error = null;
      } catch (e) {
        if (gen !== this.gen) return;
        this.error = e;
        this.busy = false;
        this.changed();
        return;
      }
      this.busy = false;
      this.changed();
    }
  }

  nextStep() {
    if (this.headNext === undefined) return { cursor: null, limit: PAGE, reverse: false, part: 'head' };
    if (this.complete || !this.want) return null;
    const [from, to] = this.want;
    const tailStart = this.total - this.tailLen;
    const needHead = from < this.headLen + PAGE ? to > this.headLen : false;
    if (needHead && this.headNext) {
      const limit = Math.min(BULK, Math.max(PAGE, to - this.headLen + 20));
      return { cursor: this.headNext, limit, reverse: false, part: 'head' };
    }
    if (!this.canReverse || this.total < 0) {
      if (to > this.headLen && this.headNext) return { cursor: this.headNext, limit: BULK, reverse: false, part: 'head' };
      return null;
    }
    if (to > tailStart - PAGE && from < tailStart) {
      const limit = Math.min(BULK, Math.max(PAGE, tailStart - from + 20));
      if (this.tailNext === null) return null;
      return { cursor: this.tailNext || null, limit, reverse: true, part: 'tail' };
    }
    // the middle: walk from whichever loaded edge is nearer, or jump there
    if (from >= this.headLen && to <= tailStart) {
      if (this.covered(from, to)) return null;
      const dHead = from - this.headLen;
      const dTail = tailStart - to;
      if (this.canJump) {
        const m = this.mid;
        const mEnd = m ? m.start + m.len : -1;
        if (m && m.next && from >= m.start && from <= mEnd + BULK && to > mEnd)
          return { cursor: m.next, limit: Math.min(BULK, Math.max(PAGE, to - mEnd + 20)), reverse: false, part: 'mid', pos: mEnd };
        if (Math.min(dHead, dTail) > BULK) {
          const at = Math.max(0, from - 20);
          return { at, limit: Math.min(BULK, Math.max(PAGE, to - at + 20)), reverse: false, part: 'jump', pos: at };
        }
      }
      if (dHead <= dTail && this.headNext) return { cursor: this.headNext, limit: BULK, reverse: false, part: 'head' };
      if (this.tailNext !== null) return { cursor: this.tailNext || null, limit: BULK, reverse: true, part: 'tail' };
      if (this.headNext) return { cursor: this.headNext, limit: BULK, reverse: false, part: 'head' };
    }
    return null;
  }

  apply(step, r) {
    const items = (r && r.items) || [];
    if (this.onItems) this.onItems(items);
    if (typeof r.total === 'number' && r.total >= 0) this.total = r.total;
    if (r.pending !== undefined) this.extra.pending = r.pending;
    if (step.part === 'mid' || step.part === 'jump') {
      for (let i = 0; i < items.length; i++) this.rows[step.pos + i] = items[i].id;
      if (step.part === 'jump') this.mid = { start: step.pos, len: items.length, next: r.next || null };
      else {
        this.mid.len += items.length;
        this.mid.next = r.next || null;
      }
    } else if (step.part === 'head') {
      for (let i = 0; i < items.length; i++) this.rows[this.headLen + i] = items[i].id;
      this.headLen += items.length;
      this.headNext = r.next || null;
      if (this.headNext === null) {
        if (this.total < 0 || this.total !== this.headLen) this.total = this.headLen;
        this.rows.length = this.headLen;
      }
    } else {
      for (let i = 0; i < items.length; i++) this.rows[this.total - 1 - (this.tailLen + i)] = items[i].id;
      this.tailLen += items.length;
      this.tailNext = r.next || null;
    }
    if (this.total >= 0 && this.headLen > this.total) this.total = this.headLen;
    this.loaded = true;
  }

  // Are the rows [from, to) all known?
  covered(from, to) {
    for (let i = from; i < Math.min(to, this.length); i++) if (this.rows[i] == null) return false;
    return true;
  }

  // Drop ids (moved away, deleted) without a reload: positions after them shift up. A range
  // from a jump is let go (it is loaded again when looked at).
  remove(ids) {
    const set = new Set(ids);
    let removedHead = 0;
    let removedTail = 0;
    let removedMid = 0;
    const tailStart = this.total - this.tailLen;
    const rows = [];
    for (let i = 0; i < Math.max(this.rows.length, this.total); i++) {
      const id = this.rows[i];
      if (id != null && set.has(id)) {
        if (i < this.headLen) removedHead++;
        else if (i >= tailStart) removedTail++;
        else removedMid++;
        continue;
      }
      rows.push(id);
    }
    const n = removedHead + removedTail + removedMid;
    if (!n) return 0;
    this.mid = null;
    this.headLen -= removedHead;
    this.tailLen -= removedTail;
    if (this.total >= 0) this.total = Math.max(0, this.total - n);
    // rebuild so the tail keeps its place relative to the new total
    const fresh = [];
    for (let i = 0; i < this.headLen; i++) fresh[i] = rows[i];
    const oldTailStart = rows.length - this.tailLen;
    for (let k = 0; k < this.tailLen; k++) fresh[this.total - this.tailLen + k] = rows[oldTailStart + k];
    this.rows = fresh;
    this.changed();
    return n;
  }

  invalidate() {
    this.gen++;
    this.busy = false;
  }

  // New mail or other changes: reload the head in one request and keep showing the old rows
  // until it answers (no flicker); the tail is dropped and reloaded on demand.
  async refresh() {
    const gen = ++this.gen;
    this.busy = true;
    const limit = Math.min(BULK, Math.max(PAGE, this.headLen));
    let r;
    try {
      r = await this.fetchPage({ cursor: null, limit, reverse: false, part: 'head' });
    } catch (e) {
      if (gen === this.gen) {
        this.busy = false;
        this.error = e;
        this.changed();
      }
      return;
    }
    if (gen !== this.gen) return;
    this.rows = [];
    this.headLen = 0;
    this.tailLen = 0;
    this.tailNext = undefined;
    this.mid = null;
    this.total = -1;
    this.apply({ part: 'head' }, r);
    if (this.headNext !== null) this.tailNext = undefined;
    this.busy = false;
    this.error = null;
    this.changed();
    this.pump();
  }

  changed() {
    if (this.onChange) this.onChange(this);
  }
}
