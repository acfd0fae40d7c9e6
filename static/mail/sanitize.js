// Mail HTML through DOMPurify: no scripts, handlers, forms, SVG/MathML, meta refresh or base;
// links open outside; cid: images point at the message's parts; remote images and CSS are
// parked (data-yz-src, url() removed) until the user allows them. Style attributes move to
// data-yz-style because the page's CSP refuses inline styles: body.js applies them through
// CSSOM inside the sandboxed frame, and <style> blocks become a constructed stylesheet.
import DOMPurify from 'dompurify';

const purify = DOMPurify(window);
let ctx = null; // the call in progress (hooks are per instance)

const REMOTE = /^\s*(https?:)?\/\//i;
const URL_IN_CSS = /url\(\s*(['"]?)([^'")]*)\1\s*\)/gi;
const SRC_ATTRS = ['src', 'background', 'poster'];

function partUrl(cid) {
  if (!ctx || !ctx.cids) return null;
  const key = cid.replace(/^cid:/i, '').replace(/^<|>$/g, '').trim().toLowerCase();
  const part = ctx.cids.get(key);
  return part ? '/api/v1/messages/' + ctx.msgId + '/parts/' + encodeURIComponent(part) + '?inline=1' : null;
}

// url(...) in CSS: cid -> part, remote -> removed unless allowed; data: and others removed.
export function cleanCss(css, c = ctx) {
  const saved = ctx;
  ctx = c;
  try {
    return String(css || '')
      .replace(/@import[^;]*;?/gi, '')
      .replace(/expression\s*\(/gi, 'x(')
      .replace(/-moz-binding|behavior\s*:/gi, 'x-')
      .replace(URL_IN_CSS, (m, q, u) => {
        if (/^cid:/i.test(u)) {
          const p = partUrl(u);
          return p ? 'url("' + p + '")' : 'none';
        }
        if (REMOTE.test(u)) {
          if (ctx && ctx.allowRemote) return 'url("' + u.replace(/["\\\n]/g, '') + '")';
          if (ctx) ctx.blocked++;
          return 'none';
        }
        return 'none';
      });
  } finally {
    ctx = saved;
  }
}

// Chrome checks the page's CSP while it parses, even in an inert DOMParser document: inline
// styles, event handlers, <base> and <style> would each log a violation. So before parsing,
// <style> blocks are cut out (their CSS is cleaned and applied separately), style="" becomes
// data-yz-css, on*="" and srcdoc="" become attributes DOMPurify drops, and <base>, <meta>,
// <link> become unknown elements it removes.
const STYLE_BLOCK = /<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi;
export function defuse(html) {
  let css = '';
  const out = String(html || '')
    .replace(STYLE_BLOCK, (m, body) => {
      css += body.replace(/<!--|-->/g, '') + '\n';
      return '';
    })
    .replace(/<(\/?)(base|meta|link|style)\b/gi, '<$1yz-x-$2')
    .replace(/<[a-z][^<>]*>/gi, (tag) =>
      tag.replace(/(\s)(style|on[a-z]+|srcdoc|formaction)(\s*=)/gi, (m, sp, name, eq) =>
        sp + (name.toLowerCase() === 'style' ? 'data-yz-css' : 'data-yz-drop-' + name) + eq
      )
    );
  return { html: out, css };
}

purify.addHook('uponSanitizeAttribute', (node, data) => {
  if (ctx && data.attrName === 'data-yz-css') data.forceKeepAttr = true;
});

purify.addHook('afterSanitizeAttributes', (node) => {
  if (!ctx || node.nodeType !== 1) return;
  const tag = node.tagName;
  if (tag === 'A' || tag === 'AREA') {
    const href = node.getAttribute('href') || '';
    if (href && !/^(https?:|mailto:|#)/i.test(href.trim())) node.removeAttribute('href');
    if (/^#/.test(href.trim())) node.removeAttribute('href');
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
  for (const a of SRC_ATTRS) {
    if (!node.hasAttribute(a)) continue;
    const v = node.getAttribute(a).trim();
    if (/^cid:/i.test(v)) {
      const p = partUrl(v);
      if (p) node.setAttribute(a, p);
      else node.removeAttribute(a);
    } else if (REMOTE.test(v)) {
      if (!ctx.allowRemote) {
        node.removeAttribute(a);
        node.setAttribute('data-yz-' + a, v);
        ctx.blocked++;
        if (tag === 'IMG') node.setAttribute('data-yz-blocked', '1');
      }
    } else if (!/^\/api\/v1\/messages\//.test(v)) node.removeAttribute(a);
  }
  if (node.hasAttribute('srcset')) {
    if (ctx.allowRemote) {
      /* keep */
    } else {
      node.removeAttribute('srcset');
      ctx.blocked++;
    }
  }
  for (const a of ['style', 'data-yz-css']) {
    if (!node.hasAttribute(a)) continue;
    const css = cleanCss(node.getAttribute(a));
    node.removeAttribute(a);
    if (css.trim()) node.setAttribute('data-yz-style', css);
  }
  // old attributes some mail still relies on, kept as data for body.js to map to CSS
  if (node.hasAttribute('bgcolor')) node.setAttribute('data-yz-bg', node.getAttribute('bgcolor'));
});

const FORBID_TAGS = ['form', 'input', 'button', 'textarea', 'select', 'option', 'meta', 'link', 'base', 'style', 'title', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'noscript', 'template', 'dialog', 'portal'];
const FORBID_ATTR = ['action', 'formaction', 'ping', 'srcdoc', 'autofocus', 'contenteditable', 'draggable', 'tabindex', 'accesskey'];

// -> { frag (inert DocumentFragment), css (cleaned text of the <style> blocks), blocked }
export function sanitizeMail(html, { msgId, attachments, allowRemote }) {
  const cids = new Map();
  for (const a of attachments || []) if (a.content_id) cids.set(a.content_id.replace(/^<|>$/g, '').trim().toLowerCase(), a.part);
  const c = { msgId, cids, allowRemote: !!allowRemote, blocked: 0 };
  // an inert parse (no loads happen in a DOMParser document) of the defused text
  const d = defuse(html);
  let css = d.css;
  const doc = new DOMParser().parseFromString(d.html, 'text/html');
  const bodyBg = doc.body ? doc.body.getAttribute('bgcolor') || '' : '';
  ctx = c;
  try {
    css = cleanCss(css, c);
    const frag = purify.sanitize(doc.body ? doc.body.innerHTML : '', {
      USE_PROFILES: { html: true },
      FORBID_TAGS,
      FORBID_ATTR,
      ALLOW_DATA_ATTR: false,
      RETURN_DOM_FRAGMENT: true,
      ALLOW_UNKNOWN_PROTOCOLS: false,
    });
    return { frag, css, blocked: c.blocked, bodyBg };
  } finally {
    ctx = null;
  }
}

// For quoting in a reply or forward: a string without styles, remote images or cid images.
export function sanitizeForQuote(html) {
  const c = { msgId: 0, cids: new Map(), allowRemote: false, blocked: 0 };
  ctx = c;
  try {
    const frag = purify.sanitize(defuse(html).html, {
      USE_PROFILES: { html: true },
      FORBID_TAGS: FORBID_TAGS.concat(['img', 'video', 'audio', 'picture', 'source']),
      FORBID_ATTR: FORBID_ATTR.concat(['class', 'id']),
      ALLOW_DATA_ATTR: false,
      RETURN_DOM_FRAGMENT: true,
    });
    for (const el of frag.querySelectorAll('[data-yz-style],[data-yz-bg],[data-yz-src],[data-yz-background],[data-yz-blocked]')) {
      for (const a of ['data-yz-style', 'data-yz-bg', 'data-yz-src', 'data-yz-background', 'data-yz-blocked']) el.removeAttribute(a);
    }
    const div = document.implementation.createHTMLDocument('').createElement('div');
    div.appendChild(frag);
    return div.innerHTML;
  } finally {
    ctx = null;
  }
}

// Squire's sanitizeToDOMFragment hook (static/mail/compose.js): HTML pasted into the compose
// editor, or loaded there for a reply or a draft, as a DOM fragment without scripts, styles,
// images or media.
export function sanitizeForEditor(html) {
  ctx = { msgId: 0, cids: new Map(), allowRemote: false, blocked: 0 };
  try {
    const frag = purify.sanitize(defuse(html).html, {
      USE_PROFILES: { html: true },
      FORBID_TAGS: FORBID_TAGS.concat(['img', 'video', 'audio', 'picture', 'source']),
      FORBID_ATTR: FORBID_ATTR.concat(['style']),
      ALLOW_DATA_ATTR: false,
      RETURN_DOM_FRAGMENT: true,
    });
    for (const el of frag.querySelectorAll('[data-yz-style],[data-yz-bg]')) {
      el.removeAttribute('data-yz-style');
      el.removeAttribute('data-yz-bg');
    }
    return document.importNode(frag, true);
  } finally {
    ctx = null;
  }
}
