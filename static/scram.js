// SCRAM-SHA-256 client (RFC 5802, RFC 7677) for HTTP SCRAM (RFC 7804).
//
// Pure functions on top of WebCrypto (globalThis.crypto): the same module runs in the browser
// (bundled into login.js) and in node >= 20 (for the RFC 7677 test vector).
// The password never leaves this module: only the ClientProof is sent to the server.

const enc = new TextEncoder();
const dec = new TextDecoder();

export const MIN_ITERATIONS = 4096;
export const MECHANISM = 'SCRAM-SHA-256';

function subtle() {
  const c = globalThis.crypto;
  if (!c || !c.subtle) throw new ScramError('no_webcrypto', 'WebCrypto is not available');
  return c.subtle;
}

export class ScramError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'ScramError';
    this.code = code;
  }
}

// ---- base64 / UTF-8 -------------------------------------------------------------------------

export function utf8(s) {
  return enc.encode(s);
}

export function fromUtf8(bytes) {
  return dec.decode(bytes);
}

export function b64encode(bytes) {
  if (typeof bytes === 'string') bytes = utf8(bytes);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

export function b64decode(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 === 1) {
    throw new ScramError('bad_base64', 'invalid base64');
  }
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// ---- names, nonces, passwords -----------------------------------------------------------------

// The sign-in name is the mail address, trimmed and lower-cased.
export function normalizeAddress(address) {
  return String(address == null ? '' : address).trim().toLowerCase();
}

// RFC 5802 saslname: "=" -> "=3D", "," -> "=2C".
export function escapeUsername(name) {
  return String(name).replace(/=/g, '=3D').replace(/,/g, '=2C');
}

// 24 random bytes, base64 (printable, never contains ",").
export function makeNonce(bytes = 24) {
  const a = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(a);
  return b64encode(a);
}

// RFC 4013 SASLprep ("query" semantics: unassigned code points allowed, as libidn's
// stringprep_profile(..., "SASLprep", 0) does). Returns null when the string contains a
// prohibited character; the caller then uses the raw password (PostgreSQL does the same).
// ASCII passwords without control characters are returned unchanged.
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
// RFC 3454 C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9 (C.1.2 is mapped above).
const PROHIBITED = new RegExp(
  '[' +
    '\\u0000-\\u001F\\u007F' + // C.2.1
    '\\u0080-\\u009F\\u06DD\\u070F\\u180E\\u200C\\u200D\\u2028\\u2029\\u2060-\\u2063' +
    '\\u206A-\\u206F\\uFEFF\\uFFF9-\\uFFFC\\u{1D173}-\\u{1D17A}' + // C.2.2
    '\\uE000-\\uF8FF\\u{F0000}-\\u{FFFFD}\\u{100000}-\\u{10FFFD}' + // C.3
    '\\uFDD0-\\uFDEF\\uFFFE\\uFFFF' + // C.4 (BMP part; other planes below)
    '\\uFFF9-\\uFFFD' + // C.6
    '\\u2FF0-\\u2FFB' + // C.7
    '\\u0340\\u0341\\u200E\\u200F\\u202A-\\u202E' + // C.8
    '\\u{E0001}\\u{E0020}-\\u{E007F}' + // C.9
    ']',
  'u'
);

export function saslprep(s) {
  let out = String(s).replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '');
  out = out.normalize('NFKC');
  if (PROHIBITED.test(out)) return null;
  for (const ch of out) {
    const cp = ch.codePointAt(0);
    if (cp >= 0xd800 && cp <= 0xdfff) return null; // C.5: lone surrogate
    if (cp > 0xffff && (cp & 0xfffe) === 0xfffe) return null; // C.4 on planes 1..16
  }
  return out;
}

export function normalizePassword(password) {
  const p = saslprep(password);
  return p === null ? String(password) : p;
}

// ---- messages ---------------------------------------------------------------------------------

// Returns {bare, message} for client-first-message "n,,n=USER,r=CNONCE".
export function clientFirst(username, cnonce) {
  const bare = 'n=' + escapeUsername(username) + ',r=' + cnonce;
  return { bare, message: 'n,,' + bare, gs2Header: 'n,,' };
}

// "a=1,b=2" -> {a:"1", b:"2"}; values may contain "=".
export function parseAttributes(msg) {
  const out = {};
  for (const part of String(msg).split(',')) {
    const m = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!m) throw new ScramError('bad_message', 'malformed SCRAM attribute');
    if (!(m[1] in out)) out[m[1]] = m[2];
  }
  return out;
}

// Validates server-first-message; returns {nonce, salt (Uint8Array), iterations}.
export function parseServerFirst(msg, cnonce) {
  if (/^m=/.test(msg)) throw new ScramError('bad_message', 'unsupported SCRAM extension');
  const a = parseAttributes(msg);
  if (a.e !== undefined) throw new ScramError('server_error', a.e);
  if (!a.r || !a.s || !a.i) throw new ScramError('bad_message', 'incomplete server-first-message');
  if (!a.r.startsWith(cnonce) || a.r.length <= cnonce.length) {
    throw new ScramError('bad_nonce', 'server nonce does not extend the client nonce');
  }
  if (!/^[0-9]{1,10}$/.test(a.i)) throw new ScramError('bad_message', 'bad iteration count');
  const iterations = parseInt(a.i, 10);
  if (iterations < MIN_ITERATIONS) {
    throw new ScramError('weak_iterations', 'iteration count below ' + MIN_ITERATIONS);
  }
  const salt = b64decode(a.s);
  if (salt.length === 0) throw new ScramError('bad_message', 'empty salt');
  return { nonce: a.r, salt, iterations };
}

// ---- crypto -----------------------------------------------------------------------------------

export async function saltedPassword(password, salt, iterations) {
  const key = await subtle().importKey('raw', utf8(normalizePassword(password)), 'PBKDF2', false, [
    'deriveBits',
  ]);
  const bits = await subtle().deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    key,
    256
  );
  return new Uint8Array(bits);
}

export async function hmac(keyBytes, data) {
  const key = await subtle().importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  return new Uint8Array(await subtle().sign('HMAC', key, typeof data === 'string' ? utf8(data) : data));
}

export async function sha256(data) {
  return new Uint8Array(await subtle().digest('SHA-256', data));
}

function xor(a, b) {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

// Computes client-final-message and the expected server signature.
// first: result of clientFirst(); serverFirstMsg: the decoded server-first-message.
export async function clientFinal(password, first, serverFirstMsg, cnonce) {
  const sf = parseServerFirst(serverFirstMsg, cnonce);
  const channelBinding = 'c=' + b64encode(first.gs2Header); // "c=biws"
  const withoutProof = channelBinding + ',r=' + sf.nonce;
  const authMessage = first.bare + ',' + serverFirstMsg + ',' + withoutProof;

  const salted = await saltedPassword(password, sf.salt, sf.iterations);
  const clientKey = await hmac(salted, 'Client Key');
  const storedKey = await sha256(clientKey);
  const clientSignature = await hmac(storedKey, authMessage);
  const proof = xor(clientKey, clientSignature);
  const serverKey = await hmac(salted, 'Server Key');
  const serverSignature = await hmac(serverKey, authMessage);

  return {
    message: withoutProof + ',p=' + b64encode(proof),
    serverSignature: b64encode(serverSignature),
    authMessage,
  };
}

// A new stored secret, made here so the new password never leaves the browser either:
// "SCRAM-SHA-256$ITER:SALT$STOREDKEY:SERVERKEY" (base64), as the server keeps it.
export async function makeSecret(password, iterations) {
  if (!(iterations >= MIN_ITERATIONS)) iterations = MIN_ITERATIONS;
  const salt = new Uint8Array(16);
  globalThis.crypto.getRandomValues(salt);
  const salted = await saltedPassword(password, salt, iterations);
  const storedKey = await sha256(await hmac(salted, 'Client Key'));
  const serverKey = await hmac(salted, 'Server Key');
  return (
    MECHANISM + '$' + iterations + ':' + b64encode(salt) + '$' + b64encode(storedKey) + ':' +
    b64encode(serverKey)
  );
}

function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

// server-final-message "v=B64(ServerSignature)" (or "e=...") must match what we computed.
export function verifyServerFinal(serverFinalMsg, expectedSignature) {
  const a = parseAttributes(serverFinalMsg);
  if (a.e !== undefined) throw new ScramError('server_error', a.e);
  if (a.v === undefined) throw new ScramError('bad_server_signature', 'no server signature');
  if (!constantTimeEqual(a.v, expectedSignature)) {
    throw new ScramError('bad_server_signature', 'server signature mismatch');
  }
  return true;
}

// ---- HTTP (RFC 7804) --------------------------------------------------------------------------

// Parses a WWW-Authenticate / Authentication-Info value and returns the parameters of the
// SCRAM-SHA-256 challenge as an object ({sid, data, realm, ...}), or null when absent.
// Authentication-Info carries bare parameters (no scheme): pass requireScheme=false.
export function parseAuthParams(header, requireScheme = true) {
  if (!header) return null;
  const s = String(header);
  let i = 0;
  let inScram = !requireScheme;
  let params = requireScheme ? null : {};
  const rest = () => s.slice(i);
  while (i < s.length) {
    const skip = /^[\s,]*/.exec(rest())[0];
    i += skip.length;
    if (i >= s.length) break;
    const tm = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(rest());
    if (!tm) break; // garbage: stop
    const token = tm[0];
    i += token.length;
    const eq = /^[ \t]*=[ \t]*/.exec(rest());
    if (eq && !/^[ \t]*=+[ \t]*(,|$)/.test(rest())) {
      // auth-param: token "=" ( token / quoted-string )
      i += eq[0].length;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++;
      } else {
        value = /^[^,\s]*/.exec(rest())[0];
        i += value.length;
      }
      const name = token.toLowerCase();
      if (inScram && !(name in params)) params[name] = value;
      continue;
    }
    // a new challenge: auth-scheme, optionally followed by token68
    if (requireScheme) {
      if (inScram) return params;
      inScram = token.toUpperCase() === MECHANISM;
      if (inScram) params = {};
    }
    const t68 = /^[ \t]+[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(,|$))/.exec(rest());
    if (t68) i += t68[0].length;
  }
  return params;
}

export function authorizationHeader(params) {
  const parts = [];
  if (params.sid !== undefined) parts.push('sid=' + params.sid);
  parts.push('data=' + params.data);
  return MECHANISM + ' ' + parts.join(', ');
}
