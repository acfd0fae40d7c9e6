// nodemailer (npm) as a mail client against Yizhan's submission ports; driven by
// test_smtp_nodemailer.py. Args: HOST_PORT_587 PORT_465 CAFILE USER PASS TO ATTACH_PATH TAG
// Prints one JSON line per attempt: {"name", "ok", "response" | "error", "code"}.
import fs from 'node:fs';
import nodemailer from 'nodemailer';

const [p587, p465, cafile, user, pass, to, attach, tag] = process.argv.slice(2);
const ca = fs.readFileSync(cafile);

function transport(port, secure, auth, extra = {}) {
  return nodemailer.createTransport(Object.assign({
    host: '127.0.0.1', port: Number(port), secure, requireTLS: !secure, auth,
    tls: { ca, servername: 'localhost' }, connectionTimeout: 10000, greetingTimeout: 10000,
    socketTimeout: 20000,
  }, extra));
}

const message = (how) => ({
  from: { name: '节点测试', address: user },
  to,
  subject: `nodemailer ${how} 季度报告 ${tag}`,
  text: `这是 nodemailer 经 ${how} 发出的邮件。\n第二行。`,
  html: `<p>这是 <b>nodemailer</b> 经 ${how} 发出的邮件。</p>`,
  attachments: [{ filename: '会议纪要.txt', path: attach }],
});

async function attempt(name, t, msg) {
  try {
    const info = await t.sendMail(msg);
    console.log(JSON.stringify({ name, ok: true, response: info.response, accepted: info.accepted }));
  } catch (e) {
    console.log(JSON.stringify({ name, ok: false, error: String(e.message), code: e.responseCode || null }));
  } finally {
    t.close();
  }
}

await attempt('587-plain', transport(p587, false, { user, pass, method: 'PLAIN' }), message('587 STARTTLS'));
await attempt('465-login', transport(p465, true, { user, pass, method: 'LOGIN' }), message('465 TLS'));
// a pool of two connections carrying three messages at once
{
  const t = transport(p587, false, { user, pass }, { pool: true, maxConnections: 2 });
  try {
    const infos = await Promise.all([1, 2, 3].map((i) => t.sendMail(message('pool ' + i))));
    console.log(JSON.stringify({ name: 'pooled', ok: true, response: infos.map((i) => i.response).join(' | ') }));
  } catch (e) {
    console.log(JSON.stringify({ name: 'pooled', ok: false, error: String(e.message), code: e.responseCode || null }));
  } finally {
    t.close();
  }
}
await attempt('bad-password', transport(p587, false, { user, pass: pass + 'x' }), message('bad'));
await attempt('no-tls', transport(p587, false, { user, pass }, { requireTLS: false, ignoreTLS: true }), message('plain'));
