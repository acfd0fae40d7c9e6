// Live updates. The server's event stream (GET /api/v1/events, server-sent events) is used
// when the OpenAPI document lists it; without it the folder list and the open page are polled
// every 20 s (and at once when the page becomes visible again). Either way the app hears
// "something changed" and calls store.refreshAll(), and new unread mail in the Inbox raises a
// desktop notification when the user has allowed them.
const POLL_MS = 20000;
const EVENTS = '/api/v1/events';

export function startLive(store) {
  let timer = null;
  let es = null;
  let stopped = false;
  let busy = false;

  async function check() {
    if (stopped || busy) return;
    busy = true;
    try {
      const { items, prev } = await store.refreshAll();
      notifyNew(store, items, prev);
    } finally {
      busy = false;
    }
  }

  // With a live stream polling only backs it up (every 2 minutes); without one, every 20 s.
  function poll() {
    clearTimeout(timer);
    if (stopped) return;
    const open = es && es.readyState === 1;
    timer = setTimeout(async () => {
      if (document.visibilityState !== 'hidden') await check();
      poll();
    }, open ? POLL_MS * 6 : POLL_MS);
  }

  function onVisible() {
    if (document.visibilityState === 'visible') check();
  }

  // Upgrade to the event stream once the server offers one.
  async function tryEvents() {
    if (typeof EventSource !== 'function') return;
    try {
      const doc = await store.api.get('/api/v1/openapi.json');
      if (!doc || !doc.paths || !doc.paths[EVENTS]) return;
    } catch (e) {
      return;
    }
    if (stopped) return;
    es = new EventSource(EVENTS, { withCredentials: true });
    let soon = null;
    const changed = () => {
      clearTimeout(soon);
      soon = setTimeout(check, 150); // a burst of events is one refresh
    };
    // "mail" events carry {type: new|changed|removed|folders, ...}; the others are older names
    for (const type of ['mail', 'resync', 'message', 'new', 'changed', 'removed', 'folders']) es.addEventListener(type, changed);
    es.onopen = () => poll();
    es.onerror = () => {
      // the stream broke (server restart, network): poll every 20 s meanwhile; EventSource
      // reconnects by itself (a closed one is dropped for good)
      if (es && es.readyState === 2) es = null;
      poll();
    };
  }

  document.addEventListener('visibilitychange', onVisible);
  poll();
  setTimeout(tryEvents, 3000);
  return {
    check,
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (es) es.close();
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}

function notifyNew(store, items, prev) {
  if (!store.s.prefs.notify || typeof Notification !== 'function' || Notification.permission !== 'granted') return;
  const inbox = items.find((f) => f.role === 'inbox');
  const before = inbox && prev.get(inbox.id);
  if (!inbox || !before || inbox.uidnext <= before.uidnext || inbox.unread <= before.unread) return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  const n = inbox.unread - before.unread;
  try {
    const note = new Notification(store.t('live.new_mail', { n }), { body: store.t('live.new_mail_body', { n: inbox.unread }), tag: 'yizhan-inbox' });
    note.onclick = () => {
      window.focus();
      store.selectFolder(inbox.id);
      note.close();
    };
  } catch (e) {
    /* some browsers allow notifications only from a service worker */
  }
}
