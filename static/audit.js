// Audit log viewer for the auditor role: filters, paging by cursor, CSV/JSON export.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);

export const AUDIT_TYPES = [
  'auth.login.ok',
  'auth.login.fail',
  'auth.logout',
  'auth.session.expired',
  'auth.totp.ok',
  'auth.totp.fail',
  'auth.totp.enrol',
  'account.create',
  'account.passwd',
  'account.disable',
  'account.enable',
  'account.totp_reset',
  'domain.create',
  'audit.export',
  'access.denied',
];

const PAGE = 100;
const EMPTY = { from: '', to: '', actor: '', type: '' };

// "2025-03-01" -> unix seconds of local midnight (endOfDay: the day's last second).
export function dateToUnix(value, endOfDay) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || '');
  if (!m) return null;
  const d = new Date(+m[1], +m[2] - 1, +m[3] + (endOfDay ? 1 : 0));
  return Math.floor(d.getTime() / 1000) - (endOfDay ? 1 : 0);
}

export function filterParams(f) {
  const p = new URLSearchParams();
  const from = dateToUnix(f.from, false);
  const to = dateToUnix(f.to, true);
  if (from !== null) p.set('from', String(from));
  if (to !== null) p.set('to', String(to));
  if (f.actor.trim()) p.set('actor', f.actor.trim().toLowerCase());
  if (f.type.trim()) p.set('type', f.type.trim());
  return p;
}

function toDate(ts) {
  if (typeof ts === 'number') return new Date(ts < 1e12 ? ts * 1000 : ts);
  if (typeof ts === 'string' && /^\d+$/.test(ts)) return toDate(parseInt(ts, 10));
  const d = new Date(ts);
  return isNaN(d.getTime()) ? null : d;
}

function detailText(detail) {
  if (detail == null || detail === '') return '';
  if (typeof detail === 'string') return detail;
  if (typeof detail === 'object' && !Array.isArray(detail)) {
    return Object.keys(detail)
      .map((k) => k + ': ' + (typeof detail[k] === 'object' ? JSON.stringify(detail[k]) : String(detail[k])))
      .join(', ');
  }
  return JSON.stringify(detail);
}

function typeClass(type) {
  if (/\.fail$|expired|disable|denied/.test(type)) return 'tag tag-warn';
  if (/\.ok$|enable|create|enrol/.test(type)) return 'tag tag-ok';
  return 'tag';
}

export function AuditLog({ api, t, lang }) {
  const [form, setForm] = useState(EMPTY);
  const [applied, setApplied] = useState(EMPTY);
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const [loaded, setLoaded] = useState(false);
  const abortRef = useRef(null);

  const fmt = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'zh-CN', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  });

  async function load(filters, fromCursor) {
    if (abortRef.current) abortRef.current.abort();
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    abortRef.current = ctl;
    const p = filterParams(filters);
    p.set('limit', String(PAGE));
    if (fromCursor) p.set('cursor', fromCursor);
    setLoading(true);
    setError('');
    try {
      const body = await api.get('/api/v1/audit?' + p.toString(), { signal: ctl && ctl.signal });
      const got = (body && Array.isArray(body.items) && body.items) || [];
      setItems((prev) => (fromCursor ? prev.concat(got) : got));
      setCursor((body && body.next_cursor) || null);
      setLoaded(true);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      if (e.status === 403) setError(t('audit.error.forbidden'));
      else if (e.status === 0) setError(t('error.network'));
      else setError(t('audit.error', { msg: e.message }));
    } finally {
      if (abortRef.current === ctl) setLoading(false);
    }
  }

  useEffect(() => {
    load(EMPTY, null);
    return () => abortRef.current && abortRef.current.abort();
  }, []);

  const onInput = (key) => (ev) => setForm(Object.assign({}, form, { [key]: ev.currentTarget.value }));

  function onSubmit(ev) {
    ev.preventDefault();
    if (form.from && form.to && form.from > form.to) {
      setError(t('audit.error.range'));
      return;
    }
    setApplied(form);
    load(form, null);
  }

  function onReset() {
    setForm(EMPTY);
    setApplied(EMPTY);
    load(EMPTY, null);
  }

  const exportQuery = filterParams(applied).toString();
  const exportHref = (format) => '/api/v1/audit/export?format=' + format + (exportQuery ? '&' + exportQuery : '');
  const typeLabel = (type) => {
    const key = 'audit.type.' + type;
    return t.has && !t.has(key) ? type : t(key);
  };

  return html`
    <section class="card audit" aria-labelledby="audit-title">
      <div class="card-head">
        <div>
          <h2 id="audit-title">${t('audit.title')}</h2>
          <p class="muted">${t('audit.subtitle')}</p>
        </div>
        <div class="btn-row" role="group" aria-label=${t('audit.export')}>
          <a class="btn btn-secondary" id="audit-export-csv" href=${exportHref('csv')} download>${t('audit.export_csv')}</a>
          <a class="btn btn-secondary" id="audit-export-json" href=${exportHref('json')} download>${t('audit.export_json')}</a>
        </div>
      </div>

      <form class="filters" onSubmit=${onSubmit} onReset=${onReset}>
        <label class="filter">
          <span>${t('audit.filter.from')}</span>
          <input type="date" name="from" value=${form.from} max=${form.to || undefined} onInput=${onInput('from')} />
        </label>
        <label class="filter">
          <span>${t('audit.filter.to')}</span>
          <input type="date" name="to" value=${form.to} min=${form.from || undefined} onInput=${onInput('to')} />
        </label>
        <label class="filter">
          <span>${t('audit.filter.actor')}</span>
          <input type="text" name="actor" value=${form.actor} placeholder=${t('audit.filter.actor_ph')}
            autocapitalize="none" spellcheck="false" onInput=${onInput('actor')} />
        </label>
        <label class="filter">
          <span>${t('audit.filter.type')}</span>
          <input type="text" name="type" list="audit-types" value=${form.type} placeholder=${t('audit.filter.type_ph')}
            autocapitalize="none" spellcheck="false" onInput=${onInput('type')} />
          <datalist id="audit-types">
            ${AUDIT_TYPES.map((ty) => html`<option value=${ty}>${typeLabel(ty)}</option>`)}
          </datalist>
        </label>
        <div class="filter filter-actions">
          <button class="btn btn-primary" type="submit" disabled=${loading}>${t('audit.filter.apply')}</button>
          <button class="btn btn-secondary" type="reset" disabled=${loading}>${t('audit.filter.reset')}</button>
        </div>
      </form>

      ${error && html`<p class="msg msg-error" role="alert">${error}</p>`}

      <div class="table-wrap">
        <table class="table audit-table">
          <thead>
            <tr>
              <th scope="col">${t('audit.col.time')}</th>
              <th scope="col">${t('audit.col.actor')}</th>
              <th scope="col">${t('audit.col.type')}</th>
              <th scope="col">${t('audit.col.ip')}</th>
              <th scope="col">${t('audit.col.client')}</th>
              <th scope="col">${t('audit.col.detail')}</th>
            </tr>
          </thead>
          <tbody>
            ${items.map((it, i) => {
              const d = toDate(it.ts);
              const detail = detailText(it.detail);
              return html`
                <tr key=${it.id != null ? it.id : 'i' + i}>
                  <td data-label=${t('audit.col.time')} class="nowrap">
                    ${d ? html`<time datetime=${d.toISOString()}>${fmt.format(d)}</time>` : String(it.ts)}
                  </td>
                  <td data-label=${t('audit.col.actor')} class="actor">${it.actor || '—'}</td>
                  <td data-label=${t('audit.col.type')}>
                    <span class=${typeClass(it.type || '')} title=${it.type}>${typeLabel(it.type || '')}</span>
                  </td>
                  <td data-label=${t('audit.col.ip')} class="mono">${it.ip || '—'}</td>
                  <td data-label=${t('audit.col.client')} class="client" title=${it.client || ''}>${it.client || '—'}</td>
                  <td data-label=${t('audit.col.detail')} class="detail" title=${detail}>${detail || '—'}</td>
                </tr>
              `;
            })}
          </tbody>
        </table>
        ${loaded && !loading && !error && items.length === 0 && html`<p class="empty">${t('audit.empty')}</p>`}
      </div>

      <div class="list-foot">
        <span class="muted" aria-live="polite">
          ${loading ? t('audit.loading') : loaded ? t('audit.count', { n: items.length }) : ''}
        </span>
        ${cursor
          ? html`<button class="btn btn-secondary" id="audit-more" type="button" disabled=${loading}
              onClick=${() => load(applied, cursor)}>${t('audit.load_more')}</button>`
          : loaded && items.length > 0 && html`<span class="muted">${t('audit.end')}</span>`}
      </div>
    </section>
  `;
}
