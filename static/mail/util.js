// Small helpers shared by the mail views: dates (Chinese formats first), addresses, sizes,
// colours, plain text to safe vnodes, HTML to text for the plain-text part of a mail.
import { h } from 'preact';

export const COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'grey'];
export const ROLE_ORDER = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];
export const FILTERS = ['', 'unread', 'pinned', 'flagged', 'attachments'];

const WEEK_ZH = ['周日', '周一', '周二', '周三', '周四', '周五', '周六'];
const WEEK_EN = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MON_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function toDate(v) {
  if (v == null || v === '') return null;
  const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
  return isNaN(d.getTime()) ? null : d;
}

const pad = (n) => (n < 10 ? '0' : '') + n;
const hm = (d) => pad(d.getHours()) + ':' + pad(d.getMinutes());

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

// The list's short date: today "14:05", yesterday "昨天", this year "5月3日", else "2023/5/3".
export function shortDate(v, lang, now = new Date()) {
  const d = toDate(v);
  if (!d) return '';
  const en = lang === 'en';
  if (sameDay(d, now)) return hm(d);
  const y = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (sameDay(d, y)) return en ? 'Yesterday' : '昨天';
  const weekAgo = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 6);
  if (d > weekAgo && d < now) return en ? WEEK_EN[d.getDay()] : WEEK_ZH[d.getDay()];
  if (d.getFullYear() === now.getFullYear())
    return en ? d.getDate() + ' ' + MON_EN[d.getMonth()] : d.getMonth() + 1 + '月' + d.getDate() + '日';
  return en
    ? d.getDate() + ' ' + MON_EN[d.getMonth()] + ' ' + d.getFullYear()
    : d.getFullYear() + '/' + (d.getMonth() + 1) + '/' + d.getDate();
}

// The reader's full date: "2024年5月3日 周五 14:05" / "Fri 3 May 2024 14:05".
export function longDate(v, lang) {
  const d = toDate(v);
  if (!d) return '';
  if (lang === 'en')
    return WEEK_EN[d.getDay()] + ' ' + d.getDate() + ' ' + MON_EN[d.getMonth()] + ' ' + d.getFullYear() + ' ' + hm(d);
  return d.getFullYear() + '年' + (d.getMonth() + 1) + '月' + d.getDate() + '日 ' + WEEK_ZH[d.getDay()] + ' ' + hm(d);
}

export function isoDay(v) {
  const d = toDate(v);
  return d ? d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) : '';
}

export function fmtSize(n) {
  n = Number(n) || 0;
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
  if (n < 1024 * 1024 * 1024) return (n / 1048576).toFixed(1) + ' MB';
  return (n / 1073741824).toFixed(2) + ' GB';
}

export function addrName(a) {
  if (!a) return '';
  return (a.name && a.name.trim()) || a.address || '';
}

export function addrFull(a) {
  if (!a) return '';
  if (a.name && a.name.trim() && a.address) return a.name.trim() + ' <' + a.address + '>';
  return a.address || a.name || '';
}

// "张三 <a@b>, c@d" -> [{name, address}]; tolerant of ；，; separators used with Chinese IMEs.
export function parseAddrs(s) {
  const out = [];
  const parts = String(s || '').split(/[,;，；\n]+/);
  for (let p of parts) {
    p = p.trim();
    if (!p) continue;
    const m = /^(.*)<([^<>]+)>\s*$/.exec(p);
    if (m) out.push({ name: m[1].trim().replace(/^"|"$/g, ''), address: m[2].trim() });
    else out.push({ name: '', address: p });
  }
  return out;
}

export function validAddr(a) {
  return /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/.test(a || '');
}

export function initials(name, address) {
  const s = (name || address || '?').trim();
  return (Array.from(s)[0] || '?').toUpperCase();
}

// A stable hue for an avatar from the address.
export function hueOf(s) {
  let h = 0;
  for (const ch of String(s || '')) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

const URL_RE = /\b(https?:\/\/[^\s<>"'）」』】]+[^\s<>"'.,;:!?）」』】。，；：！？])|\b(mailto:[^\s<>"']+)|\b([\w.+-]+@[\w-]+(?:\.[\w-]+)+)/g;

// Plain text -> vnodes: text stays text; URLs and addresses become links (never innerHTML).
export function linkify(text, onMailto) {
  const out = [];
  let last = 0;
  const s = String(text || '');
  URL_RE.lastIndex = 0;
  let m;
  while ((m = URL_RE.exec(s))) {
    if (m.index > last) out.push(s.slice(last, m.index));
    if (m[1]) out.push(h('a', { href: m[1], target: '_blank', rel: 'noopener noreferrer nofollow' }, m[1]));
    else {
      const addr = m[2] ? m[2].replace(/^mailto:/, '') : m[3];
      out.push(
        h('a', {
          href: 'mailto:' + addr,
          onClick: (e) => {
            if (onMailto) {
              e.preventDefault();
              onMailto(addr);
            }
          },
        }, m[0])
      );
    }
    last = m.index + m[0].length;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}

export function escapeHtml(s) {
  return String(s == null ? '' : s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function textToHtml(text) {
  return String(text || '')
    .split(/\r?\n/)
    .map((l) => '<div>' + (l ? escapeHtml(l) : '<br>') + '</div>')
    .join('');
}

// HTML (from the editor) -> the text/plain alternative: blocks become lines, quotes get "> ".
export function htmlToText(html) {
  const doc = new DOMParser().parseFromString('<body>' + (html || '') + '</body>', 'text/html');
  const lines = [];
  let cur = '';
  const flush = (prefix) => {
    lines.push(prefix + cur.replace(/\s+$/, ''));
    cur = '';
  };
  const BLOCK = /^(P|DIV|LI|H[1-6]|TR|BLOCKQUOTE|PRE|UL|OL|TABLE|HR)$/;
  function walk(node, prefix) {
    for (let c = node.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 3) cur += c.nodeValue.replace(/[\r\n]+/g, ' ');
      else if (c.nodeType === 1) {
        const tag = c.tagName;
        if (tag === 'BR') flush(prefix);
        else if (tag === 'BLOCKQUOTE') {
          if (cur) flush(prefix);
          walk(c, prefix + '> ');
          if (cur) flush(prefix + '> ');
        } else if (BLOCK.test(tag)) {
          if (cur) flush(prefix);
          if (tag === 'LI') cur += '• ';
          if (tag === 'HR') cur += '----';
          walk(c, prefix);
          if (cur) flush(prefix);
        } else if (tag === 'A' && c.getAttribute('href') && /^https?:/.test(c.getAttribute('href')) && c.textContent !== c.getAttribute('href')) {
          walk(c, prefix);
          cur += ' <' + c.getAttribute('href') + '>';
        } else if (tag !== 'STYLE' && tag !== 'SCRIPT') walk(c, prefix);
      }
    }
  }
  walk(doc.body, '');
  if (cur) flush('');
  return lines.join('\n').replace(/\n{3,}/g, '\n\n').trim() + '\n';
}

export function debounce(fn, ms) {
  let t = null;
  const d = (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
  d.cancel = () => clearTimeout(t);
  d.flush = (...a) => {
    clearTimeout(t);
    fn(...a);
  };
  return d;
}

export function uid(prefix) {
  return (prefix || 'k') + Date.now().toString(36) + Math.random().toString(36).slice(2, 7);
}

export function subjectPrefix(prefix, subject) {
  const s = (subject || '').trim();
  const re = prefix === 'Re' ? /^(re|回复|答复)\s*[:：]/i : /^(fwd?|转发)\s*[:：]/i;
  return re.test(s) ? s : prefix + ': ' + s;
}

export function isTyping(el) {
  if (!el) return false;
  const tag = el.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
}
