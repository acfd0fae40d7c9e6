// imapflow (npm) against Yizhan's IMAP server: used by test_imap_clients.py.
// usage: node imap_imapflow.mjs PORT CAFILE USER PASSWORD  -> prints one JSON line of results
import { readFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';

const [port, cafile, user, pass] = process.argv.slice(2);
const client = new ImapFlow({
  host: 'localhost', port: Number(port), secure: true,
  tls: { ca: [readFileSync(cafile)], servername: 'localhost' },
  auth: { user, pass }, logger: false,
});
const out = {};
await client.connect();
out.capabilities = [...client.capabilities.keys()];
const list = await client.list();
out.special = Object.fromEntries(list.filter(m => m.specialUse).map(m => [m.specialUse, m.path]));
out.paths = list.map(m => m.path);
const lock = await client.getMailboxLock('INBOX');
try {
  const raw = 'From: Node <node@example.test>\r\nSubject: imapflow 你好\r\n\r\nsent by imapflow\r\n';
  const app = await client.append('INBOX', raw, ['\\Seen']);
  out.appended = app.uid;
  const msg = await client.fetchOne(String(app.uid), { source: true, envelope: true, flags: true, bodyStructure: true }, { uid: true });
  out.source_ok = msg.source.toString() === raw;
  out.subject = msg.envelope.subject;
  out.flags = [...msg.flags];
  await client.messageFlagsAdd(String(app.uid), ['\\Flagged', '$label2'], { uid: true });
  const again = await client.fetchOne(String(app.uid), { flags: true }, { uid: true });
  out.flags_after = [...again.flags];
  out.search = await client.search({ subject: 'imapflow' }, { uid: true });
} finally {
  lock.release();
}
// IDLE: this connection idles on INBOX, another one appends, this one hears EXISTS
await client.mailboxOpen('INBOX');
const other = new ImapFlow({ host: 'localhost', port: Number(port), secure: true,
  tls: { ca: [readFileSync(cafile)], servername: 'localhost' }, auth: { user, pass }, logger: false });
await other.connect();
const heard = new Promise(resolve => client.on('exists', d => resolve(d.count)));
client.idle().catch(() => {});
await new Promise(r => setTimeout(r, 300)); // let IDLE start
const t0 = Date.now();
await other.append('INBOX', 'Subject: push\r\n\r\nx\r\n');
out.exists = await Promise.race([heard, new Promise(r => setTimeout(() => r(-1), 5000))]);
out.idle_ms = Date.now() - t0;
await other.logout();
await client.logout();
console.log(JSON.stringify(out));
