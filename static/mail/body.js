// Showing a mail body. HTML goes through sanitize.js and into a sandboxed iframe (no
// allow-scripts, no allow-forms; allow-same-origin only so this page can build the document
// and size the frame). Styles are applied through CSSOM (the CSP refuses inline styles).
// Plain text is rendered as text nodes with links; quoted lines are dimmed.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { sanitizeMail } from './sanitize.js';
import { linkify } from './util.js';

const html = htm.bind(h);

const BASE_CSS = `
html,body{margin:0;padding:0;background:#fff;color:#1b2230}
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
font-size:15px;line-height:1.6;overflow-wrap:anywhere;padding:2px 2px 8px}
img{max-width:100%;height:auto}
img[data-yz-blocked]{display:inline-block;min-width:24px;min-height:16px;background:#eef1f6;outline:1px dashed #b9c1ce}
table{max-width:100%}
pre{white-space:pre-wrap}
blockquote{margin:0 0 0 4px;padding-left:12px;border-left:3px solid #d9dee7;color:#5d6778}
a{color:#1f6feb}
`;

const SRCDOC = '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body></body></html>';

export function MailFrame({ msg, allowRemote, onInfo, onMailto, title }) {
  const ref = useRef(null);
  const [height, setHeight] = useState(120);

  useEffect(() => {
    const iframe = ref.current;
    if (!iframe) return;
    let ro = null;
    let gone = false;
    const build = () => {
      if (gone) return;
      const doc = iframe.contentDocument;
      const win = iframe.contentWindow;
      if (!doc || !doc.body) return;
      const { frag, css, blocked, bodyBg } = sanitizeMail(msg.html, { msgId: msg.id, attachments: msg.attachments, allowRemote });
      const violations = [];
      doc.addEventListener('securitypolicyviolation', (e) => {
        violations.push(e.blockedURI);
        if (onInfo) onInfo({ blocked, policyBlocked: violations.length });
      });
      doc.body.textContent = '';
      doc.body.appendChild(doc.importNode(frag, true));
      // styles: CSSOM only (cssText and a constructed sheet are not inline markup)
      for (const el of doc.querySelectorAll('[data-yz-style]')) {
        el.style.cssText = el.getAttribute('data-yz-style');
        el.removeAttribute('data-yz-style');
      }
      for (const el of doc.querySelectorAll('[data-yz-bg]')) {
        el.style.backgroundColor = el.getAttribute('data-yz-bg');
        el.removeAttribute('data-yz-bg');
      }
      if (bodyBg) doc.body.style.backgroundColor = bodyBg;
      try {
        const base = new win.CSSStyleSheet();
        base.replaceSync(BASE_CSS);
        const mail = new win.CSSStyleSheet();
        mail.replaceSync(css || '');
        doc.adoptedStyleSheets = [base, mail];
      } catch (e) {
        /* an old browser: the mail shows without its style blocks */
      }
      doc.addEventListener('click', (e) => {
        const a = e.target && e.target.closest ? e.target.closest('a[href]') : null;
        if (!a) return;
        const href = a.getAttribute('href') || '';
        if (/^mailto:/i.test(href)) {
          e.preventDefault();
          if (onMailto) onMailto(decodeURIComponent(href.slice(7).split('?')[0]));
        }
      });
      const fit = () => {
        // the content's own height (scrollHeight never drops below the frame's height)
        const hgt = Math.max(Math.ceil(doc.documentElement.getBoundingClientRect().height), doc.body.scrollWidth > iframe.clientWidth ? 40 : 0);
        setHeight(Math.min(hgt + 4, 200000));
      };
      fit();
      if (typeof win.ResizeObserver === 'function') {
        ro = new win.ResizeObserver(fit);
        ro.observe(doc.body);
      }
      for (const img of doc.images) img.addEventListener('load', fit);
      if (onInfo) onInfo({ blocked, policyBlocked: 0 });
    };
    iframe.addEventListener('load', build);
    iframe.srcdoc = SRCDOC + '<!-- ' + msg.id + (allowRemote ? ' r' : '') + ' -->';
    return () => {
      gone = true;
      iframe.removeEventListener('load', build);
      if (ro) ro.disconnect();
    };
  }, [msg.id, msg.html, allowRemote]);

  return html`<iframe class="mail-frame" ref=${ref} title=${title}
    sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer"
    style=${{ height: height + 'px' }}></iframe>`;
}

export function TextBody({ text, onMailto }) {
  const lines = String(text || '').replace(/\s+$/, '').split(/\r?\n/);
  const out = [];
  let quote = [];
  const flushQuote = () => {
    if (quote.length) out.push(html`<span class="q">${linkify(quote.join('\n') + '\n', onMailto)}</span>`);
    quote = [];
  };
  let plain = [];
  const flushPlain = () => {
    if (plain.length) out.push(linkify(plain.join('\n') + '\n', onMailto));
    plain = [];
  };
  for (const l of lines) {
    if (/^\s*>/.test(l)) {
      flushPlain();
      quote.push(l);
    } else {
      flushQuote();
      plain.push(l);
    }
  }
  flushQuote();
  flushPlain();
  return html`<div class="mail-text">${out}</div>`;
}
