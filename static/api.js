// Small JSON client for /api/v1: CSRF header on state changes, one error type,
// and a redirect to /login when the session is gone.

export class ApiError extends Error {
  constructor(status, code, message, headers) {
    super(message || code || 'HTTP ' + status);
    this.status = status;
    this.code = code || (status === 0 ? 'network' : 'http_' + status);
    this.headers = headers || null;
  }
}

export function goToLogin() {
  window.location.assign('/login');
}

export function createApi(csrfToken) {
  // opts: json (body), signal, headers (extra), keepalive, raw (return the Response too)
  async function call(method, url, opts = {}) {
    const { json, signal, keepalive } = opts;
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal };
    if (keepalive) init.keepalive = true;
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
      throw new ApiError(res.status, err.code, err.message, res.headers);
    }
    return opts.raw ? { body, res } : body;
  }

  // Uploads a file with XMLHttpRequest so the caller sees upload progress (fetch has none).
  // Returns { promise, abort }; onProgress(loaded, total).
  function upload(url, file, onProgress) {
    const xhr = new XMLHttpRequest();
    const promise = new Promise((resolve, reject) => {
      xhr.open('POST', url);
      xhr.setRequestHeader('X-CSRF-Token', csrfToken);
      xhr.setRequestHeader('Accept', 'application/json');
      if (file.type) xhr.setRequestHeader('Content-Type', file.type);
      else xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = (e) => onProgress && onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch (e) {
          body = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
        const err = (body && body.error) || {};
        if (xhr.status === 401) goToLogin();
        reject(new ApiError(xhr.status, err.code, err.message));
      };
      xhr.onerror = () => reject(new ApiError(0, 'network', 'network error'));
      xhr.onabort = () => reject(new ApiError(0, 'aborted', 'aborted'));
      xhr.send(file);
    });
    return { promise, abort: () => xhr.abort() };
  }

  return {
    csrf: csrfToken,
    call,
    upload,
    get: (url, opts) => call('GET', url, opts),
    post: (url, json, opts) => call('POST', url, Object.assign({ json }, opts)),
    put: (url, json, opts) => call('PUT', url, Object.assign({ json }, opts)),
    patch: (url, json, opts) => call('PATCH', url, Object.assign({ json }, opts)),
    del: (url, opts) => call('DELETE', url, opts),
  };
}
