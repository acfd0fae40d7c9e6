"""Shared helpers for the Yizhan protocol tests (tests/proto/).

Everything here talks to a real `yizhan` process over real TLS sockets; nothing is mocked.

- Server: a context manager that makes a temporary data dir, runs `yizhan init`, adds
  accounts with `yizhan user add`, starts `yizhan serve`, waits for /healthz, and on exit
  stops the daemon with SIGTERM and removes the dir.
- req()/Server.req(): one HTTPS request to the daemon, certificate checked against
  DIR/tls/cert.pem with host name `localhost`.
- A SCRAM-SHA-256 client for the HTTP sign-in (RFC 5802, RFC 7677, RFC 7804), as whole
  (login()) and as separate steps (step1(), client_final(), step2()) so tests can craft bad
  messages.
- totp(): RFC 6238 codes.

Environment:
  YIZHAN_BIN   the binary (default: <repo>/build/server/yizhan)
  YZ_KEEP=1    keep temporary data dirs (their paths are printed)
  YZ_VERBOSE=1 print every server log when a module ends, not only after a failure
"""

import atexit
import base64
import collections
import hashlib
import hmac
import http.client
import io
import json as jsonlib
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

DOMAIN = "example.test"
COOKIE_NAME = "__Host-yz_session"
CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"

# Standard ports the daemon listens on, added to the port base (docs/API.md, `init`).
PORT_OFFSETS = (443, 25, 587, 465, 143, 993, 110, 995)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

# Logs of every server this process started: dumped by main() when a test fails.
_SERVER_LOGS = []


def yizhan_bin():
    path = os.environ.get("YIZHAN_BIN") or os.path.join(REPO, "build", "server", "yizhan")
    return os.path.abspath(path)


def have_binary():
    p = yizhan_bin()
    return os.path.isfile(p) and os.access(p, os.X_OK)


def require_binary():
    if not have_binary():
        raise RuntimeError("yizhan binary not found at %s (set YIZHAN_BIN)" % yizhan_bin())


# ---------------------------------------------------------------------------------------------
# Ports and loopback addresses


def _bindable(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port_base(tries=60):
    """A random base in 20000..58999 whose listener ports are all free. Any base, not only
    multiples of 1000: with 31 choices, servers of suites running side by side (meson runs
    two at once, each may start two or three) picked the same base often enough that one
    lost the race between this check and its bind."""
    for _ in range(tries):
        base = random.randrange(20000, 59000)
        if all(_bindable(base + off) for off in PORT_OFFSETS):
            return base
    raise RuntimeError("no free port base found in 20000..58999")


_ALIAS_OK = None


def loopback_aliases_work():
    """Linux routes all of 127/8 to lo; we use 127.0.0.N as distinct client IPs so that the
    per-IP sign-in throttle of one test does not spill into the next."""
    global _ALIAS_OK
    if _ALIAS_OK is None:
        s = socket.socket()
        try:
            s.bind(("127.0.0.2", 0))
            _ALIAS_OK = True
        except OSError:
            _ALIAS_OK = False
        finally:
            s.close()
    return _ALIAS_OK


# ---------------------------------------------------------------------------------------------
# HTTPS requests


class Resp(collections.namedtuple("Resp", "status headers body")):
    """(status, headers, body). headers: lower-case names; `set-cookie` maps to a list,
    every other repeated header is joined with ", ". raw_headers keeps the original list."""

    raw_headers = ()
    elapsed = 0.0

    def json(self):
        return jsonlib.loads(self.body.decode("utf-8"))

    def error_code(self):
        try:
            return self.json()["error"]["code"]
        except Exception:
            return None

    def __repr__(self):
        body = self.body[:300]
        return "<Resp %s %r %r>" % (self.status, dict(self.headers), body)


def _mkresp(status, header_list, body, elapsed=0.0):
    h = {}
    for name, value in header_list:
        k = name.lower()
        if k == "set-cookie":
            h.setdefault(k, []).append(value)
        elif k in h:
            h[k] = h[k] + ", " + value
        else:
            h[k] = value
    r = Resp(status, h, body)
    r.raw_headers = list(header_list)
    r.elapsed = elapsed
    return r


def tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class _Conn(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port, certificate checked for host name `localhost` (the cert's
    SAN), optionally from a chosen loopback source address."""

    def __init__(self, port, ctx, timeout, source_ip=None):
        super().__init__("localhost", port, timeout=timeout, context=ctx)
        self._yz_ctx = ctx
        self._yz_src = source_ip

    def connect(self):
        src = (self._yz_src, 0) if self._yz_src else None
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout, src)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._yz_ctx.wrap_socket(sock, server_hostname="localhost")


def https_request(port, ctx, method, path, headers=None, body=None, cookie=None,
                  source_ip=None, timeout=20.0, chunk_body=False):
    """One request on a fresh connection. body: bytes, str, or a dict/list (sent as JSON
    with Content-Type application/json unless headers set one). cookie: the session id."""
    hdrs = {}
    if isinstance(body, (dict, list)):
        body = jsonlib.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    elif isinstance(body, str):
        body = body.encode("utf-8")
    for k, v in (headers or {}).items():
        for old in [x for x in hdrs if x.lower() == k.lower()]:
            del hdrs[old]
        hdrs[k] = v
    if cookie is not None:
        hdrs["Cookie"] = "%s=%s" % (COOKIE_NAME, cookie)
    hdrs.setdefault("User-Agent", "yizhan-proto-tests/1")
    conn = _Conn(port, ctx, timeout, source_ip)
    t0 = time.monotonic()
    try:
        if not chunk_body:
            conn.request(method, path, body=body, headers=hdrs)
        else:
            # Large bodies: the server may answer (413) and close before reading it all;
            # keep going to read that answer.
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders()
            try:
                view = memoryview(body or b"")
                for i in range(0, len(view), 65536):
                    conn.send(view[i:i + 65536])
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
                pass
        resp = conn.getresponse()
        data = resp.read()
        return _mkresp(resp.status, resp.getheaders(), data, time.monotonic() - t0)
    finally:
        conn.close()


def tls_raw(port, ctx, data, source_ip=None, timeout=10.0):
    """Send raw bytes over TLS and read until the server closes (or timeout)."""
    src = (source_ip, 0) if source_ip else None
    sock = socket.create_connection(("127.0.0.1", port), timeout, src)
    s = ctx.wrap_socket(sock, server_hostname="localhost")
    out = b""
    try:
        s.sendall(data)
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


class _BytesSock:
    def __init__(self, data):
        self._f = io.BytesIO(data)

    def makefile(self, *_a, **_k):
        return self._f


def parse_http_response(data):
    """Parse raw HTTP/1.x response bytes (as from tls_raw) into a Resp."""
    r = http.client.HTTPResponse(_BytesSock(data))
    r.begin()
    body = r.read()
    return _mkresp(r.status, r.getheaders(), body)


def set_cookie_attrs(header_value):
    """'n=v; Path=/; Secure' -> (name, value, {lower-attr: value-or-True})."""
    parts = [p.strip() for p in header_value.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), value.strip(), attrs


def find_cookie(resp, name=COOKIE_NAME):
    for sc in resp.headers.get("set-cookie", []):
        n, v, attrs = set_cookie_attrs(sc)
        if n == name:
            return v, attrs
    return None, None


# ---------------------------------------------------------------------------------------------
# The server under test


class ServerError(AssertionError):
    pass


def run_cli(args, input=None, timeout=60, env=None):
    """Run `yizhan ARGS`; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run([yizhan_bin()] + [str(a) for a in args], input=input,
                          capture_output=True, text=True, timeout=timeout, env=env)


def _cli_with_data(args, data):
    """Insert `--data DIR` after the command words, the order docs/API.md shows."""
    args = [str(a) for a in args]
    n = 2 if args and args[0] in ("user", "domain", "audit", "token", "queue", "alias", "list",
                                  "app-password") else 1
    return args[:n] + ["--data", data] + args[n:]


# Servers whose daemon may still run: a suite that fails in setUpModule (tearDownModule is
# then not called) or a teardown that raises before stopping its second server would leave a
# daemon behind, holding its ports and a CPU share of the suites after it. Killed at exit.
_RUNNING = set()


@atexit.register
def _kill_leftovers():
    for srv in list(_RUNNING):
        srv.kill()
        srv.cleanup()


class Server:
    """A running `yizhan serve` on a fresh data dir.

        with Server(users=[("alice@example.test", "pw-alice-123", "user", "Alice")]) as srv:
            srv.req("GET", "/healthz")
    """

    def __init__(self, users=(), domain=DOMAIN, name=None):
        self.users = list(users)
        self.domain = domain
        self.name = name or "yizhan"
        self.root = None
        self.data = None
        self.base = None
        self.port = None
        self.proc = None
        self.log_path = None
        self.log_text = ""
        self.exit_status = None
        self._ctx = None
        self._next_ip = 10
        self.signin_requests = 0
        self.launched = False  # has served /healthz once (launch() then keeps its ports)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop(raise_on_error=exc_type is None)
        return False

    def start(self):
        require_binary()
        self.root = tempfile.mkdtemp(prefix="yzproto-")
        # The daemon drops privileges when started as root: let its user reach the data dir.
        os.chmod(self.root, 0o755)
        try:
            for attempt in range(4):
                self.data = os.path.join(self.root, "data%d" % attempt)
                self.base = pick_port_base()
                self.port = self.base + 443
                self.init()
                for u in self.users:
                    self.add_user(*u)
                try:
                    self.launch()
                    return
                except ServerError:
                    # Only a port race (another test took a port) is worth another try.
                    if attempt == 3 or not self._port_taken():
                        raise
        except BaseException:
            self.kill()
            self.cleanup()
            raise

    def init(self):
        cp = self.cli("init", "--data", self.data, "--domain", self.domain,
                      "--port-base", str(self.base))
        if cp.returncode != 0:
            raise ServerError("yizhan init failed (%d):\n%s%s" % (cp.returncode, cp.stdout,
                                                                  cp.stderr))
        self._ctx = tls_context(os.path.join(self.data, "tls", "cert.pem"))
        return cp

    def launch(self):
        """Start `yizhan serve` on the existing data dir and wait for /healthz. A first
        launch (offline_server() picked the ports when it made the data dir, maybe long
        before) that finds a port taken moves to another port base and tries again, unless
        the config names other ports worked out from the old base (a test's own relay or DNS
        server listens there)."""
        for attempt in range(4):
            try:
                return self._launch_once()
            except ServerError:
                if self.launched or attempt == 3 or not self._port_taken():
                    raise
            conf = os.path.join(self.data, "yizhan.conf")
            with open(conf, encoding="utf-8") as f:
                text = f.read()
            others = [int(n) for line in text.splitlines()
                      if not line.startswith(("#", "port_base"))
                      for n in re.findall(r"\b\d{5}\b", line)]
            if any(self.base <= n < self.base + 1000 for n in others):
                raise
            self.base = pick_port_base()
            self.port = self.base + 443
            text, n = re.subn(r"(?m)^port_base = \d+$", "port_base = %d" % self.base, text)
            if n != 1:
                raise ServerError("no port_base line in %s" % conf)
            with open(conf, "w", encoding="utf-8") as f:
                f.write(text)

    def _port_taken(self):
        """Did the last start-up (its own log, not the earlier ones) fail on a port in use?"""
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return False
        return re.search(r"in use|EADDRINUSE", text, re.I) is not None

    def _launch_once(self):
        self.log_path = os.path.join(self.root, "serve-%d.log" % int(time.time() * 1000))
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([yizhan_bin(), "serve", "--data", self.data],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
            _RUNNING.add(self)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._collect_log()
                self.exit_status = self.proc.returncode
                raise ServerError("yizhan serve exited during start-up with status %s\n%s"
                                  % (self.proc.returncode, self._log_excerpt()))
            try:
                r = self.req("GET", "/healthz", timeout=2)
                if r.status == 200:
                    self.launched = True
                    return
                last = "healthz answered %s %r" % (r.status, r.body[:200])
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.1)
        self.kill()
        self._collect_log()
        raise ServerError("yizhan serve not healthy after %.0fs (last: %s)\n%s"
                          % (START_TIMEOUT, last, self._log_excerpt()))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        _RUNNING.discard(self)

    def stop_process(self):
        """SIGTERM, wait up to 10 s, else SIGKILL. Returns a problem string or None."""
        problem = None
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                problem = "yizhan serve did not exit within %.0fs of SIGTERM" % STOP_TIMEOUT
            if problem is None and self.proc.returncode != 0:
                problem = "yizhan serve exited with status %s after SIGTERM" % \
                    self.proc.returncode
        else:
            problem = "yizhan serve had already exited with status %s" % self.proc.returncode
        self.exit_status = self.proc.returncode
        self.proc = None
        _RUNNING.discard(self)
        self._collect_log()
        return problem

    def restart(self):
        problem = self.stop_process()
        if problem:
            raise ServerError(problem + "\n" + self._log_excerpt())
        self.launch()

    def stop(self, raise_on_error=True):
        problem = self.stop_process()
        _SERVER_LOGS.append((self.name, self.log_text, problem))
        self.cleanup()
        if problem:
            msg = problem + "\n" + self._log_excerpt()
            if raise_on_error:
                raise ServerError(msg)
            print(msg, file=sys.stderr)

    def cleanup(self):
        if self.root and os.path.isdir(self.root):
            if os.environ.get("YZ_KEEP"):
                print("[yzharness] kept %s" % self.root, file=sys.stderr)
            else:
                shutil.rmtree(self.root, ignore_errors=True)

    def _collect_log(self):
        text = []
        if self.root and os.path.isdir(self.root):
            for fn in sorted(os.listdir(self.root)):
                if fn.startswith("serve-") and fn.endswith(".log"):
                    with open(os.path.join(self.root, fn), "rb") as f:
                        text.append(f.read().decode("utf-8", "replace"))
        self.log_text = "".join(text)

    def _log_excerpt(self, lines=80):
        all_lines = self.log_text.splitlines()
        tail = all_lines[-lines:]
        head = ""
        # a sanitizer's report starts with what matters (the first leak or error and its
        # stack): show that beginning too when the tail would cut it off
        for i, l in enumerate(all_lines):
            if "ERROR: AddressSanitizer" in l or "ERROR: LeakSanitizer" in l or \
                    "runtime error:" in l:
                if i < len(all_lines) - lines:
                    head = "---- the sanitizer's report begins ----\n%s\n" % \
                        "\n".join(all_lines[max(0, i - 5):i + 60])
                break
        return "%s---- yizhan serve log (last %d lines) ----\n%s\n---- end ----" % (
            head, len(tail), "\n".join(tail))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self, tc=None):
        if not self.alive():
            self._collect_log()
            msg = "yizhan serve died (status %s)\n%s" % (
                self.proc.returncode if self.proc else None, self._log_excerpt())
            raise ServerError(msg)
        r = self.req("GET", "/healthz", timeout=5)
        if r.status != 200:
            raise ServerError("healthz answered %s" % r.status)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    # -- command line ----------------------------------------------------------------------

    def cli(self, *args, input=None, timeout=60):
        return run_cli(args, input=input, timeout=timeout)

    def cli_data(self, *args, input=None, timeout=60):
        """cli() with `--data DIR` inserted after the command words."""
        return run_cli(_cli_with_data(args, self.data), input=input, timeout=timeout)

    def add_user(self, addr, password, role="user", name=None):
        args = ["user", "add", "--data", self.data, addr, "--role", role]
        if name:
            args += ["--name", name]
        args.append("--password-stdin")
        cp = self.cli(*args, input=password + "\n")
        if cp.returncode != 0:
            raise ServerError("yizhan user add %s failed (%d): %s%s" % (
                addr, cp.returncode, cp.stdout, cp.stderr))
        return cp

    # -- HTTP ------------------------------------------------------------------------------

    def req(self, method, path, headers=None, body=None, cookie=None, source_ip=None,
            timeout=20.0, chunk_body=False):
        if method == "POST" and path.split("?")[0] == "/api/v1/session":
            self.signin_requests += 1
        return https_request(self.port, self._ctx, method, path, headers, body, cookie,
                             source_ip, timeout, chunk_body)

    def raw(self, data, source_ip=None, timeout=10.0):
        return tls_raw(self.port, self._ctx, data, source_ip, timeout)

    def new_ip(self):
        """A loopback address no other test of this server has used (127.0.0.1 if aliases
        do not work here)."""
        if not loopback_aliases_work():
            return "127.0.0.1"
        self._next_ip += 1
        n = self._next_ip
        return "127.0.%d.%d" % (n // 250, n % 250 + 2)

    # -- files -----------------------------------------------------------------------------

    def snapshot(self, dest):
        """A consistent copy of the data dir while the daemon runs: files are copied, and
        every SQLite database is taken with the online backup API (so WAL content is in)."""
        def ignore(_d, names):
            return [n for n in names if n.endswith(("-wal", "-shm", "-journal"))
                    or n.endswith(".db")]
        shutil.copytree(self.data, dest, ignore=ignore)
        for dirpath, _dirs, files in os.walk(self.data):
            for fn in files:
                if fn.endswith(".db"):
                    src = os.path.join(dirpath, fn)
                    dst = os.path.join(dest, os.path.relpath(src, self.data))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    s = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(src), uri=True)
                    d = sqlite3.connect(dst)
                    try:
                        s.backup(d)
                    finally:
                        d.close()
                        s.close()
                    shutil.copymode(src, dst)
        return dest


# ---------------------------------------------------------------------------------------------
# SCRAM-SHA-256 (RFC 5802 with the SHA-256 of RFC 7677, over HTTP per RFC 7804)


class ScramError(AssertionError):
    pass


class LoginFailed(AssertionError):
    """A sign-in step did not answer as a successful exchange would. .step is 1, 2 or 'totp';
    .resp the Resp."""

    def __init__(self, step, resp, msg=None):
        self.step = step
        self.resp = resp
        super().__init__(msg or "sign-in step %s answered %s: %r" % (step, resp.status,
                                                                    resp.body[:300]))


def b64e(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return base64.b64encode(b).decode("ascii")


def b64d(s):
    return base64.b64decode(s, validate=True)


def saslname(name):
    """RFC 5802 section 5.1: ',' and '=' in a user name are sent as =2C and =3D."""
    return name.replace("=", "=3D").replace(",", "=2C")


def new_cnonce():
    return secrets.token_urlsafe(18)


def client_first(address, cnonce=None):
    """-> (client-first-message, client-first-message-bare, cnonce)."""
    cnonce = cnonce or new_cnonce()
    bare = "n=%s,r=%s" % (saslname(address), cnonce)
    return "n,," + bare, bare, cnonce


def parse_scram_attrs(msg):
    """'r=abc,s=xyz,i=4096' -> {'r': 'abc', 's': 'xyz', 'i': '4096'} (values may hold '=')."""
    out = {}
    for part in msg.split(","):
        k, eq, v = part.partition("=")
        if not eq or len(k) != 1:
            raise ScramError("malformed SCRAM attribute %r in %r" % (part, msg))
        out[k] = v
    return out


def parse_auth_params(value, scheme="SCRAM-SHA-256"):
    """Find `scheme` in a WWW-Authenticate / Authentication-Info value and return its
    auth-params as a dict (RFC 7235 section 2.1: token or quoted-string values).
    Authentication-Info has no scheme: pass scheme=None."""
    s = value.strip()
    if scheme is not None:
        m = re.search(r"(?:^|,)\s*" + re.escape(scheme) + r"(?:\s+|$)", s, re.I)
        if not m:
            raise ScramError("no %s challenge in %r" % (scheme, value))
        s = s[m.end():]
    params = {}
    i = 0
    n = len(s)
    while i < n:
        while i < n and s[i] in " \t,":
            i += 1
        m = re.match(r"([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*", s[i:])
        if not m:
            break  # the next challenge's scheme, or junk
        key = m.group(1).lower()
        i += m.end()
        if i < n and s[i] == '"':
            i += 1
            val = []
            while i < n and s[i] != '"':
                if s[i] == "\\" and i + 1 < n:
                    i += 1
                val.append(s[i])
                i += 1
            i += 1
            params[key] = "".join(val)
        else:
            j = i
            while j < n and s[j] not in ", \t":
                j += 1
            params[key] = s[i:j]
            i = j
    return params


_PBKDF2_CACHE = {}


def salted_password(password, salt, iterations):
    """Hi(password, salt, i) of RFC 5802 = PBKDF2-HMAC-SHA-256. Cached: tests sign in many
    times with the same secret, and the client's cost is not what they measure."""
    key = (password, salt, iterations)
    sp = _PBKDF2_CACHE.get(key)
    if sp is None:
        sp = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
        _PBKDF2_CACHE[key] = sp
    return sp


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8") if isinstance(msg, str) else msg,
                    hashlib.sha256).digest()


class ScramFinal(collections.namedtuple(
        "ScramFinal", "message without_proof auth_message proof server_signature")):
    pass


def client_final(password, client_first_bare, server_first, cnonce=None, gs2_header="n,,"):
    """Compute client-final-message for `server_first`. Returns ScramFinal with the expected
    server signature. Checks that the server nonce extends `cnonce` when given."""
    a = parse_scram_attrs(server_first)
    for k in ("r", "s", "i"):
        if k not in a:
            raise ScramError("server-first-message without %s=: %r" % (k, server_first))
    nonce = a["r"]
    if cnonce is not None and (not nonce.startswith(cnonce) or len(nonce) <= len(cnonce)):
        raise ScramError("server nonce %r does not extend client nonce %r" % (nonce, cnonce))
    salt = b64d(a["s"])
    iterations = int(a["i"])
    without_proof = "c=%s,r=%s" % (b64e(gs2_header), nonce)
    auth_message = "%s,%s,%s" % (client_first_bare, server_first, without_proof)
    sp = salted_password(password, salt, iterations)
    client_key = _hmac(sp, b"Client Key")
    stored_key = hashlib.sha256(client_key).digest()
    client_sig = _hmac(stored_key, auth_message)
    proof = bytes(x ^ y for x, y in zip(client_key, client_sig))
    server_key = _hmac(sp, b"Server Key")
    server_sig = _hmac(server_key, auth_message)
    return ScramFinal(without_proof + ",p=" + b64e(proof), without_proof, auth_message,
                      proof, server_sig)


class Step1(collections.namedtuple(
        "Step1", "resp sid server_first attrs client_first_bare cnonce")):
    pass


def scram_header(data_msg=None, sid=None, data_b64=None):
    """`SCRAM-SHA-256 [sid=SID, ]data=B64` (RFC 7804 section 5)."""
    parts = []
    if sid is not None:
        parts.append("sid=" + sid)
    if data_b64 is None and data_msg is not None:
        data_b64 = b64e(data_msg)
    if data_b64 is not None:
        parts.append("data=" + data_b64)
    return "SCRAM-SHA-256 " + ", ".join(parts)


def auth_post(srv, authorization, source_ip=None, user_agent=None, cookie=None,
              extra_headers=None):
    """POST /api/v1/session with a given Authorization header (None: without one)."""
    h = {}
    if authorization is not None:
        h["Authorization"] = authorization
    if user_agent:
        h["User-Agent"] = user_agent
    h.update(extra_headers or {})
    return srv.req("POST", "/api/v1/session", headers=h, cookie=cookie, source_ip=source_ip)


def step1(srv, address, cnonce=None, source_ip=None, user_agent=None, cookie=None):
    """Send client-first. Returns Step1; sid/server_first/attrs are None unless the answer
    is a well-formed 401 challenge."""
    msg, bare, cnonce = client_first(address, cnonce)
    r = auth_post(srv, scram_header(msg), source_ip, user_agent, cookie)
    sid = server_first = attrs = None
    wa = r.headers.get("www-authenticate")
    if r.status == 401 and wa:
        p = parse_auth_params(wa)
        sid = p.get("sid")
        if "data" in p:
            server_first = b64d(p["data"]).decode("utf-8")
            attrs = parse_scram_attrs(server_first)
    return Step1(r, sid, server_first, attrs, bare, cnonce)


def step2(srv, sid, client_final_msg, source_ip=None, user_agent=None, cookie=None):
    return auth_post(srv, scram_header(client_final_msg, sid=sid), source_ip, user_agent,
                     cookie)


def verify_server_final(resp, expected_signature, sid=None):
    """Check Authentication-Info: sid=SID, data=B64(v=B64(ServerSignature))."""
    ai = resp.headers.get("authentication-info")
    if not ai:
        raise ScramError("successful sign-in without Authentication-Info")
    p = parse_auth_params(ai, scheme=None)
    if sid is not None and p.get("sid") != sid:
        raise ScramError("Authentication-Info sid %r != %r" % (p.get("sid"), sid))
    if "data" not in p:
        raise ScramError("Authentication-Info without data: %r" % ai)
    server_final = b64d(p["data"]).decode("utf-8")
    a = parse_scram_attrs(server_final)
    if "e" in a:
        raise ScramError("server-final carries error %r" % a["e"])
    if "v" not in a or not hmac.compare_digest(b64d(a["v"]), expected_signature):
        raise ScramError("server signature mismatch: got %r" % server_final)


class Session:
    """A signed-in browser-like client: the cookie, the CSRF token and the source address."""

    def __init__(self, srv, cookie, csrf, next_, account, responses, source_ip=None,
                 user_agent=None, cookie_attrs=None, password=None, address=None):
        self.srv = srv
        self.cookie = cookie
        self.csrf = csrf
        self.next = next_
        self.account = account
        self.responses = responses
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.cookie_attrs = cookie_attrs
        self.password = password
        self.address = address
        self.totp_secret = None

    def req(self, method, path, headers=None, body=None, csrf=True, cookie=True,
            timeout=20.0, chunk_body=False):
        """csrf: True sends this session's token on non-GET/HEAD; False never; a string
        sends that string."""
        h = {}
        if self.user_agent:
            h["User-Agent"] = self.user_agent
        if csrf is True and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        elif isinstance(csrf, str):
            h["X-CSRF-Token"] = csrf
        h.update(headers or {})
        return self.srv.req(method, path, headers=h, body=body,
                            cookie=self.cookie if cookie is True else (cookie or None),
                            source_ip=self.source_ip, timeout=timeout, chunk_body=chunk_body)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, obj=None, **kw):
        return self.req("POST", path, body={} if obj is None else obj, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def me(self):
        r = self.get("/api/v1/me")
        if r.status != 200:
            raise AssertionError("GET /api/v1/me answered %r" % (r,))
        return r.json()

    def logout(self):
        return self.delete("/api/v1/session")

    # -- second factor ---------------------------------------------------------------------

    def totp_enrol(self):
        """POST /api/v1/totp/enrol -> (secret, uri); remembers the secret."""
        r = self.post("/api/v1/totp/enrol", {})
        if r.status != 200:
            raise LoginFailed("totp_enrol", r)
        j = r.json()
        self.totp_secret = j["secret"]
        self.totp_uri = j["uri"]
        return j["secret"], j["uri"]

    def totp_confirm(self, code):
        return self.post("/api/v1/totp/confirm", {"code": code})

    def totp_verify(self, code):
        return self.post("/api/v1/session/totp", {"code": code})

    def enrol_and_confirm(self):
        """Enrol and confirm TOTP with a current code; returns (secret, time step used)."""
        secret, uri = self.totp_enrol()
        t = time.time()
        code = totp_from_uri(uri, t)
        r = self.totp_confirm(code)
        if r.status != 200 or r.json().get("next") != "done":
            raise LoginFailed("totp_confirm", r)
        self.next = "done"
        return secret, int(t // totp_params(uri)[2])


def login(srv, address, password, source_ip=None, user_agent=None, cookie=None,
          cnonce=None):
    """The whole SCRAM sign-in. Raises LoginFailed if a step answers unexpectedly and
    ScramError if the server's messages or signature are wrong. Returns a Session."""
    s1 = step1(srv, address, cnonce, source_ip, user_agent, cookie)
    if s1.resp.status != 401 or s1.resp.error_code() != "auth_continue" or not s1.sid \
            or not s1.server_first:
        raise LoginFailed(1, s1.resp)
    fin = client_final(password, s1.client_first_bare, s1.server_first, s1.cnonce)
    r2 = step2(srv, s1.sid, fin.message, source_ip, user_agent, cookie)
    if r2.status != 200:
        raise LoginFailed(2, r2)
    verify_server_final(r2, fin.server_signature, s1.sid)
    body = r2.json()
    value, attrs = find_cookie(r2)
    if not value:
        raise ScramError("successful sign-in without a %s cookie: %r" % (COOKIE_NAME, r2))
    return Session(srv, value, body.get("csrf_token"), body.get("next"), body.get("account"),
                   [s1.resp, r2], source_ip, user_agent, attrs, password, address)


# ---------------------------------------------------------------------------------------------
# TOTP (RFC 6238 over RFC 4226 HOTP)


def _b32decode(secret_b32):
    s = re.sub(r"[\s-]", "", secret_b32).upper()
    s += "=" * (-len(s) % 8)
    return base64.b32decode(s)


def hotp(key, counter, digits=6, algorithm="sha1"):
    h = hmac.new(key, struct.pack(">Q", counter), algorithm).digest()
    off = h[-1] & 0x0F
    code = (struct.unpack(">I", h[off:off + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return str(code).zfill(digits)


def totp(secret_b32, t=None, step=30, digits=6, algorithm="sha1"):
    """RFC 6238 code for base32 `secret_b32` at unix time t (default now)."""
    if t is None:
        t = time.time()
    return hotp(_b32decode(secret_b32), int(t // step), digits, algorithm)


def totp_params(uri):
    """otpauth://totp/LABEL?secret=..&digits=..&period=..&algorithm=.. ->
    (secret, digits, period, algorithm)."""
    u = urllib.parse.urlsplit(uri)
    q = dict(urllib.parse.parse_qsl(u.query))
    return (q.get("secret"), int(q.get("digits", 6)), int(q.get("period", 30)),
            q.get("algorithm", "SHA1").lower())


def totp_from_uri(uri, t=None):
    secret, digits, period, algo = totp_params(uri)
    return totp(secret, t, period, digits, algo)


def wrong_code(secret_b32, t=None, step=30, digits=6):
    """A code that is not valid for any step within +-3 of t."""
    t = time.time() if t is None else t
    valid = {totp(secret_b32, t + k * step, step, digits) for k in range(-3, 4)}
    c = int(totp(secret_b32, t, step, digits))
    while True:
        c = (c + 137911) % (10 ** digits)
        s = str(c).zfill(digits)
        if s not in valid:
            return s


def sleep_until_next_step(after_step, step=30):
    """Sleep until the TOTP time step is greater than `after_step` (plus a small margin)."""
    target = (after_step + 1) * step + 0.5
    d = target - time.time()
    if d > 0:
        time.sleep(d)


# ---------------------------------------------------------------------------------------------
# Assertions shared by the modules


# The two loosenings server/http.c allows: the webmail page may show mail images the user
# chose to see, and inline attachment previews may be framed by our own pages.
CSP_VARIANTS = (CSP, CSP + "; img-src 'self' data: blob: https:",
                CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'"))


def assert_security_headers(tc, resp, what=""):
    h = resp.headers
    tc.assertIn(h.get("content-security-policy"), CSP_VARIANTS, "CSP on %s" % what)
    tc.assertEqual(h.get("x-content-type-options"), "nosniff", "nosniff on %s" % what)
    tc.assertEqual(h.get("strict-transport-security"), HSTS, "HSTS on %s" % what)
    tc.assertEqual(h.get("referrer-policy"), "no-referrer", "Referrer-Policy on %s" % what)


def assert_error(tc, resp, status, code, what=""):
    """`{"error":{"code":CODE,"message":"..."}}` with the status and a JSON content type."""
    tc.assertEqual(resp.status, status, "%s: %r" % (what, resp))
    ct = resp.headers.get("content-type", "")
    tc.assertTrue(ct.startswith("application/json"), "%s: content-type %r" % (what, ct))
    try:
        j = resp.json()
    except ValueError:
        tc.fail("%s: error body is not JSON: %r" % (what, resp.body[:300]))
    tc.assertIsInstance(j, dict, what)
    tc.assertEqual(list(j.keys()), ["error"], "%s: %r" % (what, j))
    tc.assertIsInstance(j["error"], dict, what)
    tc.assertEqual(j["error"].get("code"), code, "%s: %r" % (what, j))
    tc.assertIsInstance(j["error"].get("message"), str, what)
    tc.assertTrue(j["error"]["message"], "%s: empty message" % what)
    return j


# ---------------------------------------------------------------------------------------------
# Running a module


def main():
    """unittest.main() for a test module, then: print server logs if anything failed (or
    with YZ_VERBOSE=1) and exit non-zero on failure."""
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    ok = prog.result.wasSuccessful()
    if not ok or os.environ.get("YZ_VERBOSE"):
        for name, text, problem in _SERVER_LOGS:
            lines = text.splitlines()
            print("\n==== log of %s (%d lines%s) ====" % (
                name, len(lines), ", " + problem if problem else ""), file=sys.stderr)
            print("\n".join(lines[-200:]), file=sys.stderr)
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------------------------
# Mail: helpers shared by test_mail_api.py and test_import.py


def stop_all(*servers):
    """Stop every server given (None is skipped), each even when an earlier one's stop raised
    (its log showed a problem); then raise one ServerError naming all the problems."""
    problems = []
    for srv in servers:
        if srv:
            try:
                srv.stop()
            except ServerError as e:
                problems.append(str(e))
    if problems:
        raise ServerError("\n".join(problems))


def offline_server(users=(), name=None, domain=DOMAIN, scratch=False):
    """A Server whose data dir is initialised and has its accounts, but whose daemon is not
    running: for the mail commands, which work on the files. srv.launch() starts the daemon
    later; srv.stop() stops it (if running) and removes the dir, as for a started Server.
    scratch=True puts it in /dev/shm when there is one: for tests that write thousands of
    files, which some disks (ext4 with online discard) take many seconds to delete."""
    require_binary()
    srv = Server(users=users, domain=domain, name=name)
    where = "/dev/shm" if scratch and os.path.isdir("/dev/shm") and os.access(
        "/dev/shm", os.W_OK) else None
    srv.root = tempfile.mkdtemp(prefix="yzproto-", dir=where)
    os.chmod(srv.root, 0o755)
    try:
        srv.data = os.path.join(srv.root, "data0")
        srv.base = pick_port_base()
        srv.port = srv.base + 443
        srv.init()
        for u in srv.users:
            srv.add_user(*u)
    except BaseException:
        srv.cleanup()
        raise
    return srv


def service_user(data):
    """The [server] user of DATA/yizhan.conf: what the daemon and the mail commands run as
    when started as root."""
    section = None
    with open(os.path.join(data, "yizhan.conf"), encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            m = re.match(r"^\[([^\]]+)\]$", s)
            if m:
                section = m.group(1)
            elif section == "server":
                m = re.match(r"^user\s*=\s*(\S+)", s)
                if m:
                    return m.group(1)
    return "yizhan"


def hand_to_service_user(data, *paths):
    """When the tests run as root the commands drop to the service user: give it paths
    (recursively) that it must write, such as an export target."""
    if os.geteuid() != 0:
        return
    import pwd
    pw = pwd.getpwnam(service_user(data))
    for top in paths:
        for dirpath, dirs, files in os.walk(top):
            os.chown(dirpath, pw.pw_uid, pw.pw_gid)
            for fn in files:
                os.chown(os.path.join(dirpath, fn), pw.pw_uid, pw.pw_gid)


def cli_dir(data, path):
    """A new directory the mail commands may write into (export targets)."""
    os.makedirs(path, exist_ok=True)
    hand_to_service_user(data, path)
    return path


def conf_append(data, section, lines):
    """Add `[section]` with `key = value` lines to DATA/yizhan.conf (a section may appear
    only once there, so each test adds a section at most once)."""
    with open(os.path.join(data, "yizhan.conf"), "a", encoding="utf-8") as f:
        f.write("\n[%s]\n" % section)
        for k, v in lines.items():
            f.write("%s = %s\n" % (k, v))


def account_id(data, address):
    db = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.join(data,
                                                                          "directory.db")),
                         uri=True)
    try:
        row = db.execute("SELECT id FROM accounts WHERE address = ?", (address,)).fetchone()
    finally:
        db.close()
    if row is None:
        raise AssertionError("no account %s in directory.db" % address)
    return row[0]


def account_dir(data, address):
    """DATA/accounts/<shard>/<id>: the account's mail.db, mail.log and index/."""
    aid = account_id(data, address)
    return os.path.join(data, "accounts", "%02x" % (aid & 0xFF), str(aid))


def sql_write(data, relpath, sql, params=()):
    """One write to a database of the data dir (the daemon may be running: SQLite's locking
    makes that safe). As root, the files go back to the service user afterwards, so that a
    -wal or -shm file this connection created does not lock the daemon out."""
    path = os.path.join(data, relpath)
    db = sqlite3.connect(path, timeout=30)
    try:
        db.execute(sql, params)
        db.commit()
    finally:
        db.close()
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam(service_user(data))
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(path + suffix):
                os.chown(path + suffix, pw.pw_uid, pw.pw_gid)


def sql_read(path, sql, params=()):
    db = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(path), uri=True, timeout=30)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def blob_file(data_dir, digest):
    """Where the store keeps a blob: blobs/ab/<digest> in a store with blobs/.layout (every
    store made now), blobs/ab/cd/<digest> in an older one."""
    root = os.path.join(data_dir, "blobs")
    if os.path.exists(os.path.join(root, ".layout")):
        return os.path.join(root, digest[:2], digest)
    return os.path.join(root, digest[:2], digest[2:4], digest)


def queued_body(data_dir, digest):
    """A queued message's bytes: from queue.db's spool (up to 1 MiB), else its blob file."""
    rows = sql_read(os.path.join(data_dir, "queue.db"), "SELECT data FROM spool WHERE blob = ?",
                    (digest,))
    if rows:
        return bytes(rows[0][0])
    with open(blob_file(data_dir, digest), "rb") as f:
        return f.read()


def token_add(srv, address, *scopes, name="proto-tests"):
    """`yizhan token add`: the bearer token (printed once on stdout)."""
    args = ["token", "add", "--data", srv.data, address, "--name", name]
    for s in scopes:
        args += ["--scope", s]
    cp = run_cli(args)
    if cp.returncode != 0:
        raise ServerError("token add failed (%d): %s%s" % (cp.returncode, cp.stdout, cp.stderr))
    return cp.stdout.strip().splitlines()[-1].strip()


def wait_indexed(get, timeout=90.0):
    """Poll GET /api/v1/search until `pending` (index jobs not yet done) is 0. get is a
    function path -> Resp (Session.get, or one that sends a bearer token)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = get("/api/v1/search?q=&limit=1")
        if last.status != 200:
            raise AssertionError("GET /api/v1/search answered %r" % (last,))
        if last.json().get("pending") == 0:
            return
        time.sleep(0.1)
    raise AssertionError("the index still has %r pending jobs after %.0fs" % (
        last.json().get("pending") if last else None, timeout))


def encoded_word(text, charset, enc="B"):
    """One RFC 2047 encoded word of text in charset ('B' base64 or 'Q')."""
    raw = text.encode(charset) if isinstance(text, str) else text
    if enc.upper() == "B":
        return "=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode("ascii"))
    out = []
    for b in raw:
        c = chr(b)
        if c == " ":
            out.append("_")
        elif c.isalnum() and b < 0x80:
            out.append(c)
        else:
            out.append("=%02X" % b)
    return "=?%s?Q?%s?=" % (charset, "".join(out))


def b64_body(data, crlf=True):
    """Base64 in 76-character lines, as MIME writes it."""
    nl = "\r\n" if crlf else "\n"
    s = base64.b64encode(data).decode("ascii")
    return nl.join(s[i:i + 76] for i in range(0, len(s), 76)) + nl


def rfc2231(text, charset="UTF-8"):
    """charset''percent-encoded (RFC 2231 extended value)."""
    raw = text.encode(charset)
    return "%s''%s" % (charset, "".join(
        chr(b) if (chr(b).isalnum() and b < 0x80) or chr(b) in "-._~" else "%%%02X" % b
        for b in raw))
