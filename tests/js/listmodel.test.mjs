// Unit test of static/mail/listmodel.js (the webmail's paged list) with node's test runner.
// The pages come from an in-memory folder that answers as GET /api/v1/messages does: keyset
// cursors forward and in reverse, ?at=N, and the folder total. Checked: a 100,000-row folder
// is reachable anywhere in a few requests (a jump, not a walk), rows land at their positions,
// growing a jumped-to range forward, removal, and refresh.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ListModel } from '../../static/mail/listmodel.js';

function folder(n) {
  const ids = Array.from({ length: n }, (_, i) => n - i); // newest first
  const calls = [];
  const fetchPage = async ({ cursor, limit, reverse, at }) => {
    calls.push({ cursor, limit, reverse, at });
    const order = reverse ? [...ids].reverse() : ids;
    let start = cursor ? Number(cursor) : 0;
    if (at != null) start = at;
    const slice = order.slice(start, start + limit);
    const next = start + limit < order.length ? String(start + limit) : null;
    return { items: slice.map((id) => ({ id })), next, total: ids.length };
  };
  return { ids, calls, fetchPage };
}

function settle(list) {
  return new Promise((resolve) => {
    const tick = () => (list.busy ? setTimeout(tick, 1) : resolve());
    setTimeout(tick, 1);
  });
}

async function view(list, from, to) {
  list.ensure(from, to);
  await settle(list);
  for (let i = from; i < to; i++) assert.notEqual(list.idAt(i), undefined, 'row ' + i + ' not loaded');
}

test('the first page, the end and the middle of a 100,000-row folder', async () => {
  const f = folder(100000);
  const list = new ListModel('k', f.fetchPage, { canJump: true });
  await view(list, 0, 50);
  assert.equal(list.length, 100000);
  assert.equal(f.calls.length, 1);
  await view(list, 99950, 100000);
  assert.equal(list.idAt(99999), 1, 'the last row is the oldest');
  assert.equal(f.calls.length, 2, 'the end is one request away');
  const before = f.calls.length;
  await view(list, 50000, 50050);
  assert.equal(f.calls.length - before, 1, 'the middle is one request away, not a walk');
  assert.equal(f.calls.at(-1).at, 49980);
  for (let i = 50000; i < 50050; i++) assert.equal(list.idAt(i), f.ids[i]);
  // scrolling on from there grows that range with its cursor
  await view(list, 50400, 50550);
  assert.ok(f.calls.at(-1).cursor, 'grown with the cursor, not another jump');
  for (let i = 50400; i < 50550; i++) assert.equal(list.idAt(i), f.ids[i]);
  const loaded = list.loadedIds().length;
  assert.ok(loaded < 2000, 'loaded ' + loaded + ' rows, not the folder');
});

test('near an edge the list walks on from it instead of jumping', async () => {
  const f = folder(10000);
  const list = new ListModel('k', f.fetchPage, { canJump: true });
  await view(list, 0, 50);
  await view(list, 300, 350);
  assert.ok(f.calls.slice(1).every((c) => c.at == null));
  for (let i = 0; i < 350; i++) assert.equal(list.idAt(i), f.ids[i]);
});

test('without jumps (search results) the list walks', async () => {
  const f = folder(5000);
  const list = new ListModel('k', f.fetchPage, { canJump: false });
  await view(list, 0, 50);
  await view(list, 2500, 2550);
  assert.ok(f.calls.every((c) => c.at == null));
  for (let i = 2500; i < 2550; i++) assert.equal(list.idAt(i), f.ids[i]);
});

test('removing rows from a jumped-to range keeps the count and the edges right', async () => {
  const f = folder(20000);
  const list = new ListModel('k', f.fetchPage, { canJump: true });
  await view(list, 0, 50);
  await view(list, 19950, 20000);
  await view(list, 10000, 10050);
  const gone = [list.idAt(10), list.idAt(10010), list.idAt(19990)];
  assert.equal(list.remove(gone), 3);
  assert.equal(list.length, 19997);
  assert.equal(list.idAt(10), f.ids[11]);
  assert.equal(list.idAt(19996), 1);
  for (const id of gone) assert.equal(list.indexOf(id), -1);
  // the middle is loaded again when looked at
  f.ids.splice(f.ids.indexOf(gone[0]), 1);
  f.ids.splice(f.ids.indexOf(gone[1]), 1);
  f.ids.splice(f.ids.indexOf(gone[2]), 1);
  await view(list, 10000, 10050);
  for (let i = 10000; i < 10050; i++) assert.equal(list.idAt(i), f.ids[i]);
});

test('refresh reloads the head, then what the view shows', async () => {
  const f = folder(3000);
  const list = new ListModel('k', f.fetchPage, { canJump: true });
  await view(list, 0, 50);
  await view(list, 1500, 1550);
  f.ids.unshift(3001);
  await list.refresh();
  await settle(list);
  assert.equal(list.length, 3001);
  assert.equal(list.idAt(0), 3001);
  // what the view still shows is loaded again, at its new positions
  await view(list, 1500, 1550);
  for (let i = 1500; i < 1550; i++) assert.equal(list.idAt(i), f.ids[i]);
});
