// Small JSON client for /api/v1: CSRF header on state changes, one error type,
// and a redirect to /login when the session is gone.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || 'HTTP ' + status);
    this.status = status;
    this.code = code || (status === 0 ? 'network' : 'http_' + status);
  }
}

export function goToLogin() {
  window.location.assign('/login');
}

export function createApi(csrfToken) {
  async function call(method, url, { json, signal } = {}) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal };
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', String((e && e.message) || e));
    }
    let body = null;
    if (res.status !== 204 && (res.headers.get('Content-Type') || '').indexOf('json') >= 0) {
      try {
        body = await res.json();
      } catch (e) {
        body = null;
      }
    }
    if (!res.ok) {
      const err = (body && body.error) || {};
      if (res.status === 401 && (err.code === 'unauthorized' || !err.code)) goToLogin();
      throw new ApiError(res.status, err.code, err.message);
    }
    return body;
  }
  return {
    get: (url, opts) => call('GET', url, opts),
    post: (url, json, opts) => call('POST', url, Object.assign({ json }, opts)),
    del: (url, opts) => call('DELETE', url, opts),
  };
}
