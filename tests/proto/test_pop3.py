#!/usr/bin/env python3
"""The POP3 listeners (server/pop3/): port base+110 with STLS, base+995 with implicit TLS.

CAPA before and after STLS and on 995; USER/PASS and AUTH PLAIN refused before TLS on 110;
logins with USER/PASS (over STLS and 995), AUTH PLAIN (initial response and continuation),
AUTH SCRAM-SHA-256 (without TLS too; the server signature checked); app passwords and the
app-passwords-only setting; wrong passwords, unknown users, admins, and the lockout; every
login and failure audited with "protocol":"pop3". The maildrop: STAT/LIST/UIDL/TOP/RETR of
corpus messages (tests/data/mail/) byte for byte on the wire (CRLF line ends, dot-stuffing,
sizes as sent), UIDL = UIDVALIDITY.UID, the snapshot taken at login, DELE + QUIT expunging
(and `yizhan restore` bringing the mail back), DELE + a dropped connection or a timeout
changing nothing, RSET, retrieved mail marked seen, the maildrop lock ([IN-USE]), PIPELINING.
Real clients: Python's poplib, curl (pop3s:// and pop3:// with STLS) and mpop (Debian package
mpop: USER, PLAIN and GNU SASL's SCRAM-SHA-256) delivering into an mbox. Hostile input: 100 KB
lines, NUL, bare CR, pipelined garbage after STLS, plaintext instead of a TLS handshake, HTTP
requests, too many errors; and the limits of a second server (idle timeout, sessions per IP,
line length, errors)."""

import base64
import hmac
import json
import os
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import yzharness as yz

D = yz.DOMAIN
CORPUS = os.path.join(yz.REPO, "tests", "data", "mail")

ALICE = ("alice@" + D, "alice-password-1", "user", "Alice")      # capabilities, logins
BOB = ("bob@" + D, "bob-password-1", "user", "Bob")              # corpus maildrop
CAROL = ("carol@" + D, "carol-password-1", "user", "Carol")      # SCRAM
DAN = ("dan@" + D, "dan-password-1", "user", "Dan")              # lockout
ERIN = ("erin@" + D, "erin-password-1", "user", "Erin")          # DELE, QUIT, restore
FRANK = ("frank@" + D, "frank-password-1", "user", "Frank")      # curl
GRACE = ("grace@" + D, "grace-password-1", "user", "Grace")      # mpop
HANA = ("hana@" + D, "hana-password-1", "user", "Hana")          # app passwords
IVAN = ("ivan@" + D, "ivan-password-1", "user", "Ivan")          # lock, snapshot, pipelining
JUN = ("jun@" + D, "jun-password-1", "user", "Jun")              # edge-case messages
KIM = ("kim@" + D, "kim-password-1", "user", "Kim")              # a large message
STRESS = [("s%d@%s" % (i, D), "stress-password-%d" % i, "user", "S%d" % i) for i in range(4)]
ADMIN = ("sa@" + D, "sa-password-123", "sysadmin", "Sys Admin")

LIM_TIMEOUT = 2
LIM_PER_IP = 3
LIM_LINE = 300
LIM_ERRORS = 4

SRV = None   # the main server
SRVT = None  # short timeout, few sessions per IP, short lines, few errors
CHK = unittest.TestCase()


def setUpModule():
    global SRV, SRVT
    SRV = yz.Server(users=[ALICE, BOB, CAROL, DAN, ERIN, FRANK, GRACE, HANA, IVAN, JUN, KIM,
                           ADMIN] + STRESS, name="test_pop3")
    SRV.start()
    SRVT = yz.offline_server(users=[ALICE], name="test_pop3_limits")
    try:
        yz.conf_append(SRVT.data, "pop3", {"timeout": LIM_TIMEOUT, "max_per_ip": LIM_PER_IP,
                                           "max_line": LIM_LINE, "max_errors": LIM_ERRORS})
        SRVT.launch()
    except BaseException:
        SRVT.stop(raise_on_error=False)
        SRVT = None
        raise


def tearDownModule():
    yz.stop_all(SRV, SRVT)


# ---------------------------------------------------------------------------------------------
# Clients


def port(srv, kind):
    return srv.base + {"pop3": 110, "pop3s": 995}[kind]


def tls_ctx(srv):
    return yz.tls_context(os.path.join(srv.data, "tls", "cert.pem"))


class Raw:
    """A line-level POP3 client over a raw socket: exact bytes out, exact bytes in."""

    def __init__(self, srv, kind="pop3", ip=None, timeout=10.0, greet=True):
        self.srv = srv
        src = (ip, 0) if ip else None
        self.sock = socket.create_connection(("127.0.0.1", port(srv, kind)), timeout, src)
        self.buf = b""
        if kind == "pop3s":
            self.sock = tls_ctx(srv).wrap_socket(self.sock, server_hostname="localhost")
        self.greeting = self.line() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("server closed the connection; buffered %r" % self.buf[:200])
        self.buf += chunk

    def line(self):
        """One response line without its CRLF (bytes)."""
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.line()

    def multi(self):
        """The body of a multi-line response, as on the wire, without the final .CRLF."""
        while True:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0:
                body, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                return body
            self._fill()

    def login(self, user, password):
        CHK.assertTrue(self.cmd("USER " + user).startswith(b"+OK"))
        return self.cmd("PASS " + password)

    def stls(self):
        r = self.cmd("STLS")
        CHK.assertTrue(r.startswith(b"+OK"), r)
        CHK.assertEqual(self.buf, b"", "bytes after the +OK of STLS")
        self.sock = tls_ctx(self.srv).wrap_socket(self.sock, server_hostname="localhost")

    def silent(self, wait=0.5):
        """Bytes the server sends within `wait` seconds (b"" if none; None if it closed)."""
        self.sock.settimeout(max(wait, 0.01))
        try:
            data = self.sock.recv(65536)
            return self.buf + data if data else None
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return self.buf
        except (ConnectionResetError, ssl.SSLError):
            return None
        finally:
            self.sock.settimeout(10)

    def read_to_close(self, timeout=10.0):
        self.sock.settimeout(timeout)
        data = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return data, True
                data += chunk
        except (socket.timeout, ssl.SSLWantReadError):
            return data, False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return data, True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def pop(srv, kind="pop3s", stls=False, timeout=15):
    """poplib to 'localhost' (the certificate's name)."""
    if kind == "pop3s":
        p = poplib.POP3_SSL("localhost", port(srv, kind), timeout=timeout, context=tls_ctx(srv))
    else:
        p = poplib.POP3("localhost", port(srv, kind), timeout=timeout)
    if stls:
        p.stls(context=tls_ctx(srv))
    return p


def scram_auth(raw, user, password):
    """AUTH SCRAM-SHA-256 over POP3 (RFC 5034 + RFC 5802) with an initial response; checks
    the server signature. Returns the final response line."""
    msg, bare, cnonce = yz.client_first(user)
    r = raw.cmd("AUTH SCRAM-SHA-256 " + yz.b64e(msg))
    if not r.startswith(b"+ "):
        return r
    server_first = yz.b64d(r[2:].decode()).decode("utf-8")
    a = yz.parse_scram_attrs(server_first)
    CHK.assertTrue(a["r"].startswith(cnonce) and len(a["r"]) > len(cnonce))
    fin = yz.client_final(password, bare, server_first, cnonce)
    r = raw.cmd(yz.b64e(fin.message))
    if not r.startswith(b"+ "):
        return r
    server_final = yz.b64d(r[2:].decode()).decode("ascii")
    CHK.assertTrue(server_final.startswith("v="), server_final)
    CHK.assertTrue(hmac.compare_digest(yz.b64d(server_final[2:]), fin.server_signature),
                   "wrong server signature")
    return raw.cmd("")


def plain_ir(user, password):
    return "AUTH PLAIN " + yz.b64e("\0%s\0%s" % (user, password))


def audit(srv, type_prefix):
    rows = yz.sql_read(os.path.join(srv.data, "audit.db"),
                       "SELECT actor, type, ip, detail FROM audit WHERE type LIKE ? ORDER BY id",
                       (type_prefix + "%",))
    return [(a, t, ip, json.loads(d) if d else {}) for a, t, ip, d in rows]


def wait_for(pred, timeout=15.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


# ---------------------------------------------------------------------------------------------
# Messages: what the wire must carry


def wire_form(raw):
    """The message as RFC 1939 sends it, unstuffed: every line end (CRLF, LF or a bare CR)
    becomes CRLF, and an unterminated last line gets one."""
    w = re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
    if w and not w.endswith(b"\r\n"):
        w += b"\r\n"
    return w


def stuffed(wire):
    return re.sub(rb"(?m)^\.", b"..", wire)


def top_form(raw, n):
    lines = wire_form(raw).split(b"\r\n")[:-1]
    try:
        h = lines.index(b"")
    except ValueError:
        h = len(lines) - 1
    keep = lines[:h + 1 + n]
    return b"".join(ln + b"\r\n" for ln in keep)


class Mailbox:
    """A web session for one user: upload into INBOX, list it."""

    def __init__(self, srv, user):
        self.srv = srv
        self.s = yz.login(srv, user[0], user[1], source_ip=srv.new_ip())
        folders = self.s.get("/api/v1/folders").json()["items"]
        self.inbox = next(f for f in folders if f["role"] == "inbox")

    def upload(self, raw, ok=True):
        r = self.s.req("POST", "/api/v1/folders/%d/messages" % self.inbox["id"],
                       headers={"Content-Type": "message/rfc822"}, body=raw)
        if ok:
            CHK.assertEqual(r.status, 201, r)
        return r.json() if r.status == 201 else None

    def items(self):
        r = self.s.get("/api/v1/messages?folder=%d&limit=500&sort=date&order=asc"
                       % self.inbox["id"])
        CHK.assertEqual(r.status, 200, r)
        return r.json()["items"]

    def uidvalidity(self):
        folders = self.s.get("/api/v1/folders").json()["items"]
        return next(f for f in folders if f["role"] == "inbox")["uidvalidity"]


def simple(subject, body="hello\r\n"):
    return ("From: x@remote.test\r\nTo: y@%s\r\nSubject: %s\r\n"
            "Date: Tue, 10 Sep 2024 10:00:00 +0800\r\n\r\n%s" % (D, subject, body)).encode()


def corpus_files():
    """Every corpus file with dot lines, bare CRs, LF line ends or no final line end, then a
    sample of the rest: at most 60, each under 100 KB."""
    odd, rest = [], []
    for dirpath, _dirs, files in os.walk(CORPUS):
        for fn in sorted(files):
            p = os.path.join(dirpath, fn)
            if os.path.getsize(p) > 100 * 1024:
                continue
            with open(p, "rb") as f:
                d = f.read()
            if (re.search(rb"(?m)^\.", d) or re.search(rb"\r(?!\n)", d) or
                    re.search(rb"(?<!\r)\n", d) or not d.endswith(b"\n")):
                odd.append(p)
            else:
                rest.append(p)
    odd.sort()
    rest.sort()
    return (odd[:40] + rest[::max(1, len(rest) // 20)])[:60]


# ---------------------------------------------------------------------------------------------


class Capabilities(unittest.TestCase):
    def capa(self, p):
        return p.capa()

    def test_greeting(self):
        r = Raw(SRV, ip=SRV.new_ip())
        self.assertRegex(r.greeting, rb"^\+OK \S+ POP3 server ready$")
        self.assertNotIn(b"<", r.greeting)  # no APOP timestamp: APOP is not offered
        self.assertTrue(r.cmd("APOP x 0123456789abcdef").startswith(b"-ERR"))
        r.close()

    def test_capa_before_and_after_stls(self):
        p = pop(SRV, "pop3")
        c = p.capa()
        for k in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS"):
            self.assertIn(k, c)
        self.assertEqual(c["SASL"], ["SCRAM-SHA-256"])
        self.assertNotIn("USER", c)
        self.assertEqual(c["IMPLEMENTATION"], ["Yizhan"])
        p.stls(context=tls_ctx(SRV))
        c = p.capa()
        self.assertNotIn("STLS", c)
        self.assertIn("USER", c)
        self.assertEqual(c["SASL"], ["PLAIN", "SCRAM-SHA-256"])
        p.quit()

    def test_capa_on_995_and_in_transaction(self):
        p = pop(SRV, "pop3s")
        c = p.capa()
        self.assertNotIn("STLS", c)
        self.assertIn("USER", c)
        self.assertEqual(c["SASL"], ["PLAIN", "SCRAM-SHA-256"])
        p.user(ALICE[0])
        p.pass_(ALICE[1])
        self.assertEqual(p.capa(), c)  # RFC 2449 5: the same list in both states
        p.quit()

    def test_stls_twice_and_in_transaction(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.stls()
        self.assertTrue(r.cmd("STLS").startswith(b"-ERR"))
        self.assertTrue(r.login(ALICE[0], ALICE[1]).startswith(b"+OK"))
        self.assertTrue(r.cmd("STLS").startswith(b"-ERR"))
        self.assertTrue(r.cmd("QUIT").startswith(b"+OK"))
        r.close()

    def test_old_auth_listing(self):
        r = Raw(SRV, ip=SRV.new_ip())
        self.assertTrue(r.cmd("AUTH").startswith(b"+OK"))
        self.assertEqual(r.multi(), b"SCRAM-SHA-256\r\n")
        r.stls()
        self.assertTrue(r.cmd("AUTH").startswith(b"+OK"))
        self.assertEqual(r.multi(), b"PLAIN\r\nSCRAM-SHA-256\r\n")
        r.close()

    def test_states(self):
        r = Raw(SRV, ip=SRV.new_ip())
        for c in ("STAT", "LIST", "RETR 1", "DELE 1", "RSET", "NOOP", "TOP 1 0", "UIDL"):
            self.assertEqual(r.cmd(c), b"-ERR Not logged in", c)
        self.assertEqual(r.cmd("PASS x"), b"-ERR [AUTH] Plaintext authentication needs TLS; "
                                          b"use STLS first")
        r.close()
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertEqual(r.cmd("PASS whatever"), b"-ERR Send USER first")
        self.assertTrue(r.login(ALICE[0], ALICE[1]).startswith(b"+OK"))
        for c in ("USER x", "PASS y", "AUTH PLAIN"):
            self.assertEqual(r.cmd(c), b"-ERR Already logged in", c)
        self.assertEqual(r.cmd("NOOP"), b"+OK")
        self.assertTrue(r.cmd("QUIT").startswith(b"+OK"))
        r.close()


class PlaintextRefused(unittest.TestCase):
    def test_user_pass_and_plain_before_stls(self):
        r = Raw(SRV, ip=SRV.new_ip())
        for line in ("USER " + ALICE[0], "PASS " + ALICE[1], plain_ir(ALICE[0], ALICE[1]),
                     "AUTH PLAIN"):
            got = r.cmd(line)
            self.assertTrue(got.startswith(b"-ERR [AUTH] "), (line, got))
        r.close()
        p = pop(SRV, "pop3")
        with self.assertRaises(poplib.error_proto) as cm:
            p.user(ALICE[0])
        self.assertIn(b"[AUTH]", cm.exception.args[0])
        p.quit()
        # nothing was checked: no audit record of a failure for Alice from these
        self.assertFalse([x for x in audit(SRV, "auth.login.fail")
                          if x[0] == ALICE[0] and x[3].get("method") in ("user", "plain")
                          and x[3].get("port") == port(SRV, "pop3")])


class Logins(unittest.TestCase):
    def test_user_pass_over_stls_and_995(self):
        p = pop(SRV, "pop3", stls=True)
        self.assertTrue(p.user(ALICE[0]).startswith(b"+OK"))
        self.assertTrue(p.pass_(ALICE[1]).startswith(b"+OK Maildrop locked and ready"))
        p.quit()
        p = pop(SRV, "pop3s")
        p.user(ALICE[0])
        self.assertTrue(p.pass_(ALICE[1]).startswith(b"+OK"))
        self.assertEqual(p.noop(), b"+OK")
        p.quit()
        ok = wait_for(lambda: [x for x in audit(SRV, "auth.login.ok")
                               if x[0] == ALICE[0] and x[3].get("protocol") == "pop3"
                               and x[3].get("method") == "user"])
        self.assertTrue(ok)
        self.assertEqual({x[3]["port"] for x in ok} >= {port(SRV, "pop3"), port(SRV, "pop3s")},
                         True, ok)

    def test_password_with_spaces_is_one_argument(self):
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertTrue(r.cmd("USER " + ALICE[0]).startswith(b"+OK"))
        self.assertEqual(r.cmd("PASS " + ALICE[1] + " extra"), b"-ERR [AUTH] Authentication failed")
        r.close()

    def test_auth_plain(self):
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertTrue(r.cmd(plain_ir(ALICE[0], ALICE[1])).startswith(b"+OK"))
        r.cmd("QUIT")
        r.close()
        r = Raw(SRV, ip=SRV.new_ip())
        r.stls()
        self.assertEqual(r.cmd("AUTH PLAIN"), b"+ ")
        self.assertTrue(r.cmd(yz.b64e("%s\0%s\0%s" % (ALICE[0], ALICE[0], ALICE[1])))
                        .startswith(b"+OK"))
        r.close()
        self.assertTrue(wait_for(lambda: [x for x in audit(SRV, "auth.login.ok")
                                          if x[0] == ALICE[0] and x[3]["method"] == "plain"]))

    def test_sasl_cancel_and_garbage(self):
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertEqual(r.cmd("AUTH PLAIN"), b"+ ")
        self.assertEqual(r.cmd("*"), b"-ERR Authentication cancelled")
        self.assertEqual(r.cmd("AUTH PLAIN"), b"+ ")
        self.assertEqual(r.cmd("%%%not base64"), b"-ERR Malformed authentication message")
        self.assertEqual(r.cmd("AUTH CRAM-MD5"), b"-ERR Unrecognized authentication mechanism")
        self.assertEqual(r.cmd("AUTH PLAIN " + yz.b64e("only-one-part")),
                         b"-ERR Malformed authentication message")
        self.assertEqual(r.cmd("AUTH PLAIN " + yz.b64e("someone-else\0%s\0%s" % ALICE[:2])),
                         b"-ERR Malformed authentication message")  # no acting for another
        self.assertTrue(r.cmd("CAPA").startswith(b"+OK"))
        r.multi()
        r.close()

    def test_wrong_unknown_admin(self):
        for user, pw in ((ALICE[0], "wrong-password"), ("nobody@" + D, "whatever-pw"),
                         (ADMIN[0], ADMIN[1])):
            r = Raw(SRV, "pop3s", ip=SRV.new_ip())
            self.assertEqual(r.login(user, pw), b"-ERR [AUTH] Authentication failed", user)
            self.assertEqual(r.cmd(plain_ir(user, pw)), b"-ERR [AUTH] Authentication failed")
            r.close()
        fails = wait_for(lambda: [x for x in audit(SRV, "auth.login.fail")
                                  if x[3].get("protocol") == "pop3"])
        reasons = {(x[0], x[3]["reason"]) for x in fails}
        self.assertIn((ALICE[0], "bad password or unknown address"), reasons)
        self.assertIn(("nobody@" + D, "bad password or unknown address"), reasons)
        self.assertIn((ADMIN[0], "admin account"), reasons)


class Scram(unittest.TestCase):
    def test_scram_without_tls(self):
        r = Raw(SRV, ip=SRV.new_ip())
        got = scram_auth(r, CAROL[0], CAROL[1])
        self.assertTrue(got.startswith(b"+OK Maildrop locked and ready"), got)
        self.assertTrue(r.cmd("STAT").startswith(b"+OK"))
        self.assertTrue(r.cmd("QUIT").startswith(b"+OK"))
        r.close()
        ok = wait_for(lambda: [x for x in audit(SRV, "auth.login.ok")
                               if x[0] == CAROL[0] and x[3]["method"] == "scram-sha-256"])
        self.assertTrue(ok)
        self.assertEqual(ok[0][3]["protocol"], "pop3")

    def test_scram_over_995_and_continuation(self):
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertTrue(scram_auth(r, CAROL[0], CAROL[1]).startswith(b"+OK"))
        r.close()
        # no initial response: an empty challenge first
        r = Raw(SRV, ip=SRV.new_ip())
        self.assertEqual(r.cmd("AUTH SCRAM-SHA-256"), b"+ ")
        msg, bare, cnonce = yz.client_first(CAROL[0])
        got = r.cmd(yz.b64e(msg))
        self.assertTrue(got.startswith(b"+ "), got)
        sf = yz.b64d(got[2:].decode()).decode()
        fin = yz.client_final(CAROL[1], bare, sf, cnonce)
        got = r.cmd(yz.b64e(fin.message))
        self.assertTrue(got.startswith(b"+ "), got)
        self.assertTrue(r.cmd("").startswith(b"+OK"))
        r.close()

    def test_scram_wrong_and_unknown(self):
        for user, pw in ((CAROL[0], "wrong-password"), ("nobody@" + D, "whatever-pw")):
            r = Raw(SRV, ip=SRV.new_ip())
            msg, bare, cnonce = yz.client_first(user)
            got = r.cmd("AUTH SCRAM-SHA-256 " + yz.b64e(msg))
            self.assertTrue(got.startswith(b"+ "), got)
            a = yz.parse_scram_attrs(yz.b64d(got[2:].decode()).decode())
            self.assertEqual(set(a), {"r", "s", "i"})  # unknown looks like known
            fin = yz.client_final(pw, bare, yz.b64d(got[2:].decode()).decode(), cnonce)
            self.assertEqual(r.cmd(yz.b64e(fin.message)), b"-ERR [AUTH] Authentication failed")
            r.close()


class Lockout(unittest.TestCase):
    def test_wrong_password_and_lockout(self):
        ip = SRV.new_ip()
        answers = []
        for _ in range(12):
            r = Raw(SRV, "pop3s", ip=ip)
            answers.append(r.login(DAN[0], "not-the-password"))
            r.close()
            if b"[LOGIN-DELAY]" in answers[-1]:
                break
        self.assertEqual(answers[0], b"-ERR [AUTH] Authentication failed")
        self.assertIn(b"[LOGIN-DELAY]", answers[-1], answers)
        # locked: the right password is refused too, with the time to wait (SCRAM as well)
        r = Raw(SRV, "pop3s", ip=ip)
        got = r.login(DAN[0], DAN[1])
        self.assertTrue(got.startswith(b"-ERR [LOGIN-DELAY] Too many failed attempts"), got)
        wait = int(re.search(rb"in (\d+) seconds", got).group(1))
        self.assertTrue(scram_auth(r, DAN[0], DAN[1]).startswith(b"-ERR [LOGIN-DELAY]"))
        r.close()
        self.assertLessEqual(wait, 16)
        time.sleep(wait + 1.1)
        r = Raw(SRV, "pop3s", ip=ip)
        self.assertTrue(r.login(DAN[0], DAN[1]).startswith(b"+OK"))
        r.close()
        fails = [x for x in audit(SRV, "auth.login.fail") if x[0] == DAN[0]]
        self.assertGreaterEqual(len(fails), 3)
        self.assertTrue(all(x[3]["protocol"] == "pop3" and x[2] == ip for x in fails))
        self.assertIn("locked", [x[3]["reason"] for x in fails])

    def test_wait_is_not_cut_at_a_second_boundary(self):
        # The third failure starts a wait of 1 s. When failures were kept in whole seconds, one
        # late in a second was let off at the next boundary, a few milliseconds later. Here the
        # third failure lands at about .70 and the next attempt comes just after the boundary,
        # about 0.35 s later: still within the wait. (Unknown addresses are throttled alike.)
        for n in range(5):
            who, ip = "late-in-a-second-%d@%s" % (n, D), SRV.new_ip()
            for _ in range(2):
                r = Raw(SRV, "pop3s", ip=ip)
                self.assertEqual(r.login(who, "wrong"), b"-ERR [AUTH] Authentication failed")
                r.close()
            third, fourth = Raw(SRV, "pop3s", ip=ip), Raw(SRV, "pop3s", ip=ip)
            for r in (third, fourth):
                self.assertTrue(r.cmd("USER " + who).startswith(b"+OK"))
            time.sleep((0.70 - time.time()) % 1)
            t_sent = time.time()
            self.assertEqual(third.cmd("PASS wrong"), b"-ERR [AUTH] Authentication failed")
            t_reply = time.time()
            third.close()
            if int(t_reply) != int(t_sent) or t_reply - t_sent > 0.25:
                fourth.close()  # it may have been recorded after the boundary: again
                continue
            time.sleep(int(t_sent) + 1.05 - time.time())
            got = fourth.cmd("PASS wrong")
            fourth.close()
            self.assertTrue(got.startswith(b"-ERR [LOGIN-DELAY]"), got)
            return
        self.skipTest("no failure between .70 and the next second boundary in five tries")


class AppPasswords(unittest.TestCase):
    def cli(self, *args):
        cp = SRV.cli_data(*args)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        return cp.stdout

    def userpass(self, user, password):
        """USER/PASS on 995; waits out the failure throttle (earlier failures here)."""
        for _ in range(6):
            r = Raw(SRV, "pop3s", ip=SRV.new_ip())
            got = r.login(user, password)
            r.close()
            m = re.search(rb"\[LOGIN-DELAY\].* in (\d+) seconds", got)
            if not m:
                return got
            time.sleep(int(m.group(1)) + 0.5)
        return got

    def scram(self, user, password):
        r = Raw(SRV, ip=SRV.new_ip())
        got = scram_auth(r, user, password)
        r.close()
        return got

    def test_app_passwords(self):
        out = self.cli("app-password", "add", HANA[0], "--name", "Foxmail")
        apppw = out.splitlines()[0].strip()
        app_id = int(re.search(r"app password (\d+)", out).group(1))
        self.assertTrue(self.userpass(HANA[0], apppw).startswith(b"+OK"))
        ok = wait_for(lambda: [x for x in audit(SRV, "auth.login.ok")
                               if x[0] == HANA[0] and x[3].get("app_password") == app_id])
        self.assertTrue(ok, "the audit record does not name the app password")
        self.assertEqual(ok[0][3]["protocol"], "pop3")
        # SCRAM knows only the account password
        self.assertEqual(self.scram(HANA[0], apppw), b"-ERR [AUTH] Authentication failed")
        # only app passwords: the account password no longer works for mail clients
        self.cli("app-password", "require", HANA[0])
        self.assertEqual(self.userpass(HANA[0], HANA[1]), b"-ERR [AUTH] Authentication failed")
        self.assertEqual(self.scram(HANA[0], HANA[1]), b"-ERR [AUTH] Authentication failed")
        self.assertTrue(self.userpass(HANA[0], apppw).startswith(b"+OK"))
        self.cli("app-password", "require", HANA[0], "--off")
        self.cli("app-password", "revoke", HANA[0], str(app_id))
        self.assertEqual(self.userpass(HANA[0], apppw), b"-ERR [AUTH] Authentication failed")
        self.assertTrue(self.userpass(HANA[0], HANA[1]).startswith(b"+OK"))


class CorpusMaildrop(unittest.TestCase):
    """Bob's INBOX holds corpus messages; nothing here deletes anything."""

    @classmethod
    def setUpClass(cls):
        cls.mb = Mailbox(SRV, BOB)
        cls.raws = []
        for p in corpus_files():
            with open(p, "rb") as f:
                raw = f.read()
            if cls.mb.upload(raw, ok=False) is not None:
                cls.raws.append((os.path.relpath(p, CORPUS), raw))
        CHK.assertGreaterEqual(len(cls.raws), 40, "too few corpus messages were stored")
        cls.items = cls.mb.items()
        cls.items.sort(key=lambda it: it["uid"])
        CHK.assertEqual(len(cls.items), len(cls.raws))

    def session(self):
        p = pop(SRV, "pop3s")
        p.user(BOB[0])
        p.pass_(BOB[1])
        return p

    def test_stat_list_uidl(self):
        p = self.session()
        want = [len(wire_form(raw)) for _, raw in self.raws]
        self.assertEqual(p.stat(), (len(want), sum(want)))
        resp, lines, _ = p.list()
        self.assertEqual(resp, b"+OK %d messages (%d octets)" % (len(want), sum(want)))
        self.assertEqual(lines, [b"%d %d" % (i + 1, n) for i, n in enumerate(want)])
        self.assertEqual(p.list(3), b"+OK 3 %d" % want[2])
        uv = self.mb.uidvalidity()
        resp, lines, _ = p.uidl()
        self.assertEqual(lines, [b"%d %d.%d" % (i + 1, uv, it["uid"])
                                 for i, it in enumerate(self.items)])
        self.assertEqual(p.uidl(2), b"+OK 2 %d.%d" % (uv, self.items[1]["uid"]))
        for bad in ("0", str(len(want) + 1), "-1", "x", "99999999999"):
            with self.assertRaises(poplib.error_proto):
                p.list(bad)
        p.quit()

    def test_retr_byte_exact_on_the_wire(self):
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertTrue(r.login(BOB[0], BOB[1]).startswith(b"+OK"))
        for i, (name, raw) in enumerate(self.raws):
            with self.subTest(file=name):
                w = wire_form(raw)
                self.assertEqual(r.cmd("RETR %d" % (i + 1)), b"+OK %d octets" % len(w))
                self.assertEqual(r.multi(), stuffed(w))
        r.cmd("QUIT")
        r.close()

    def test_retr_and_top_with_poplib(self):
        p = self.session()
        for i, (name, raw) in enumerate(self.raws):
            with self.subTest(file=name):
                resp, lines, octets = p.retr(i + 1)
                w = wire_form(raw)
                self.assertEqual(b"".join(ln + b"\r\n" for ln in lines), w)
                self.assertEqual(octets, len(w))  # LIST's size is what arrives
                for n in (0, 1, 5):
                    resp, lines, _ = p.top(i + 1, n)
                    self.assertEqual(b"".join(ln + b"\r\n" for ln in lines), top_form(raw, n),
                                     "TOP %d %d" % (i + 1, n))
        p.quit()

    def test_top_syntax(self):
        p = self.session()
        for bad in ("TOP 1", "TOP 1 x", "TOP 1 -1", "TOP x 1", "TOP 1 2 3", "RETR", "RETR 1 2",
                    "DELE", "LIST 1 2"):
            with self.assertRaises(poplib.error_proto, msg=bad):
                p._shortcmd(bad)
        p.quit()


class EdgeMessages(unittest.TestCase):
    CASES = [
        ("lf-only", b"Subject: lf\n\nline one\nline two\n"),
        ("dots", b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmid.dle\r\n...\r\n"),
        ("dots-lf", b"Subject: dots lf\n\n.\n.x\n"),
        ("no-final-eol", b"Subject: no eol\r\n\r\nlast line without end"),
        ("bare-cr", b"Subject: cr\r\n\r\na\rb\r\r\n.c\r"),
        ("header-only", b"Subject: only a header\r\nX-A: 1\r\n"),
        ("empty-body", b"Subject: empty body\r\n\r\n"),
        ("body-first-blank", b"\r\nbody after an empty header\r\n"),
        ("long-line", b"Subject: long\r\n\r\n" + b"x" * 200000 + b"\r\n.\r\n"),
        ("nul", b"Subject: nul\r\n\r\na\0b\r\n"),
    ]

    @classmethod
    def setUpClass(cls):
        cls.mb = Mailbox(SRV, JUN)
        cls.stored = []
        for name, raw in cls.CASES:
            if cls.mb.upload(raw, ok=False) is not None:
                cls.stored.append((name, raw))
        CHK.assertGreaterEqual(len(cls.stored), 8, [n for n, _ in cls.stored])

    def test_wire_bytes(self):
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertTrue(r.login(JUN[0], JUN[1]).startswith(b"+OK"))
        self.assertEqual(r.cmd("LIST"), b"+OK %d messages (%d octets)" % (
            len(self.stored), sum(len(wire_form(raw)) for _, raw in self.stored)))
        r.multi()
        for i, (name, raw) in enumerate(self.stored):
            with self.subTest(case=name):
                w = wire_form(raw)
                self.assertEqual(r.cmd("RETR %d" % (i + 1)), b"+OK %d octets" % len(w))
                body = r.multi()
                self.assertEqual(body, stuffed(w))
                # no line on the wire is the terminator, no bare CR or LF
                self.assertNotIn(b"\r\n.\r\n", b"\r\n" + body)
                self.assertEqual(body.count(b"\n"), body.count(b"\r\n"))
                self.assertEqual(body.count(b"\r"), body.count(b"\r\n"))
                self.assertEqual(r.cmd("TOP %d 1" % (i + 1)), b"+OK Top of message follows")
                self.assertEqual(r.multi(), stuffed(top_form(raw, 1)))
        r.cmd("QUIT")
        r.close()


class DeleteAndUpdate(unittest.TestCase):
    """Erin's INBOX: DELE, RSET, QUIT, dropped connections, restore."""

    def setUp(self):
        self.mb = Mailbox(SRV, ERIN)

    def fresh(self, n, tag):
        """n new messages with subjects tag-0.. in INBOX; returns their subjects."""
        subs = ["%s-%d" % (tag, i) for i in range(n)]
        for s in subs:
            self.mb.upload(simple(s))
        return subs

    def inbox_subjects(self):
        return [it["subject"] for it in self.mb.items()]

    def login(self):
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertTrue(r.login(ERIN[0], ERIN[1]).startswith(b"+OK"))
        return r

    def numbers_of(self, r, subjects):
        """Message numbers of the given subjects in this session (by TOP 0)."""
        got = {}
        count = int(r.cmd("STAT").split()[1])
        for i in range(1, count + 1):
            r.cmd("TOP %d 0" % i)
            m = re.search(rb"(?m)^Subject: (.*)\r$", r.multi())
            if m and m.group(1).decode() in subjects:
                got[m.group(1).decode()] = i
        return got

    def test_dele_quit_removes_and_restore_brings_back(self):
        subs = self.fresh(3, "dq")
        r = self.login()
        nums = self.numbers_of(r, subs)
        stat = r.cmd("STAT").split()
        self.assertEqual(r.cmd("DELE %d" % nums["dq-0"]), b"+OK Message %d deleted" % nums["dq-0"])
        self.assertEqual(r.cmd("DELE %d" % nums["dq-2"]), b"+OK Message %d deleted" % nums["dq-2"])
        # deleted messages are gone for this session: STAT, LIST, RETR, DELE again
        after = r.cmd("STAT").split()
        self.assertEqual(int(after[1]), int(stat[1]) - 2)
        self.assertEqual(r.cmd("DELE %d" % nums["dq-0"]), b"-ERR Message %d is deleted" % nums["dq-0"])
        self.assertTrue(r.cmd("RETR %d" % nums["dq-2"]).startswith(b"-ERR"))
        self.assertTrue(r.cmd("LIST %d" % nums["dq-2"]).startswith(b"-ERR"))
        self.assertEqual(r.cmd("QUIT"), b"+OK localhost POP3 server signing off "
                                        b"(2 messages deleted)")
        self.assertTrue(r.read_to_close()[1])
        r.close()
        left = self.inbox_subjects()
        self.assertNotIn("dq-0", left)
        self.assertNotIn("dq-2", left)
        self.assertIn("dq-1", left)
        self.assertTrue(wait_for(lambda: [x for x in audit(SRV, "mail.expunge")
                                          if x[0] == ERIN[0] and x[3] == {"protocol": "pop3",
                                                                         "messages": 2}]))
        # recoverable by the admin
        cp = SRV.cli_data("restore", ERIN[0])
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertGreaterEqual(int(re.search(r"restored (\d+) messages", cp.stdout).group(1)),
                                2, cp.stdout)
        left = self.inbox_subjects()
        self.assertIn("dq-0", left)
        self.assertIn("dq-2", left)

    def test_dropped_connection_and_rset_remove_nothing(self):
        subs = self.fresh(2, "keep")
        before = self.inbox_subjects()
        r = self.login()
        nums = self.numbers_of(r, subs)
        for n in nums.values():
            self.assertTrue(r.cmd("DELE %d" % n).startswith(b"+OK"))
        r.close()  # dropped: no UPDATE state
        time.sleep(0.5)
        self.assertEqual(self.inbox_subjects(), before)
        r = self.login()
        nums = self.numbers_of(r, subs)
        for n in nums.values():
            self.assertTrue(r.cmd("DELE %d" % n).startswith(b"+OK"))
        got = r.cmd("RSET")
        self.assertRegex(got, rb"^\+OK Maildrop has \d+ messages \(\d+ octets\)$")
        self.assertTrue(r.cmd("RETR %d" % nums["keep-0"]).startswith(b"+OK"))
        r.multi()
        self.assertEqual(r.cmd("QUIT"), b"+OK localhost POP3 server signing off "
                                        b"(0 messages deleted)")
        r.close()
        self.assertEqual(self.inbox_subjects(), before)

    def test_retrieved_mail_marked_seen(self):
        subs = self.fresh(2, "seen")
        r = self.login()
        nums = self.numbers_of(r, subs)
        r.cmd("RETR %d" % nums["seen-0"])
        r.multi()
        r.cmd("TOP %d 3" % nums["seen-1"])
        r.multi()
        flags = {it["subject"]: it["flags"] for it in self.mb.items()}
        self.assertNotIn("seen", flags["seen-0"])  # not before QUIT
        r.cmd("QUIT")
        r.close()
        flags = {it["subject"]: it["flags"] for it in self.mb.items()}
        self.assertIn("seen", flags["seen-0"])
        self.assertNotIn("seen", flags["seen-1"])  # TOP is not a download

    def test_dele_of_mail_moved_away_meanwhile(self):
        subs = self.fresh(2, "moved")
        r = self.login()
        nums = self.numbers_of(r, subs)
        items = {it["subject"]: it for it in self.mb.items()}
        folders = self.mb.s.get("/api/v1/folders").json()["items"]
        archive = next(f for f in folders if f["role"] == "archive")
        resp = self.mb.s.req("PATCH", "/api/v1/messages",
                             body={"ids": [items["moved-0"]["id"]], "move": archive["id"]})
        self.assertEqual(resp.status, 200, resp)
        for n in nums.values():
            self.assertTrue(r.cmd("DELE %d" % n).startswith(b"+OK"))
        self.assertEqual(r.cmd("QUIT"), b"+OK localhost POP3 server signing off "
                                        b"(1 messages deleted)")
        r.close()
        # the moved one is still in Archive: POP3 deletes only what is still in the INBOX
        moved = self.mb.s.get("/api/v1/messages/%d" % items["moved-0"]["id"])
        self.assertEqual(moved.status, 200, moved)
        self.assertEqual(moved.json()["folder"], archive["id"])
        self.assertNotIn("moved-1", self.inbox_subjects())


class SessionRules(unittest.TestCase):
    """Ivan: the maildrop lock, the snapshot, PIPELINING."""

    @classmethod
    def setUpClass(cls):
        cls.mb = Mailbox(SRV, IVAN)
        for i in range(3):
            cls.mb.upload(simple("ivan-%d" % i))

    def test_in_use(self):
        a = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertTrue(a.login(IVAN[0], IVAN[1]).startswith(b"+OK"))
        b = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertEqual(b.login(IVAN[0], IVAN[1]),
                         b"-ERR [IN-USE] The maildrop is in use by another POP3 session")
        a.cmd("QUIT")
        a.close()
        self.assertTrue(b.login(IVAN[0], IVAN[1]).startswith(b"+OK"))
        b.close()
        # a dropped session frees the lock too
        time.sleep(0.3)
        c = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertTrue(wait_for(lambda: c.login(IVAN[0], IVAN[1]).startswith(b"+OK"), 5))
        c.cmd("QUIT")
        c.close()

    def test_snapshot_at_login(self):
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        self.assertTrue(r.login(IVAN[0], IVAN[1]).startswith(b"+OK"))
        n = int(r.cmd("STAT").split()[1])
        self.mb.upload(simple("late arrival"))
        self.assertEqual(int(r.cmd("STAT").split()[1]), n)
        self.assertEqual(r.cmd("LIST %d" % (n + 1)), b"-ERR No such message")
        r.cmd("QUIT")
        r.close()
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        r.login(IVAN[0], IVAN[1])
        self.assertEqual(int(r.cmd("STAT").split()[1]), n + 1)
        r.cmd("QUIT")
        r.close()

    def test_pipelining(self):
        r = Raw(SRV, "pop3s", ip=SRV.new_ip())
        cmds = ["USER " + IVAN[0], "PASS " + IVAN[1], "STAT", "LIST", "UIDL", "RETR 1", "TOP 2 0",
                "NOOP", "BOGUS", "RSET", "QUIT"]
        r.send("".join(c + "\r\n" for c in cmds))
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertTrue(r.line().startswith(b"+OK Maildrop locked"))
        self.assertTrue(r.line().startswith(b"+OK "))  # STAT
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertTrue(r.multi())
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertTrue(r.multi())
        self.assertRegex(r.line(), rb"^\+OK \d+ octets$")
        self.assertIn(b"Subject: ivan-0", r.multi())
        self.assertEqual(r.line(), b"+OK Top of message follows")
        self.assertIn(b"Subject: ivan-1", r.multi())
        self.assertEqual(r.line(), b"+OK")
        self.assertEqual(r.line(), b"-ERR Unknown command")
        self.assertTrue(r.line().startswith(b"+OK Maildrop has"))
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertTrue(r.read_to_close()[1])
        r.close()


class Load(unittest.TestCase):
    def test_large_message(self):
        mb = Mailbox(SRV, KIM)
        line = b"." + b"0123456789abcdef" * 4 + b"\n"   # LF line ends, every line stuffed
        raw = b"Subject: large\nFrom: k@remote.test\n\n" + line * (6 * 1024 * 1024 // len(line))
        mb.upload(raw)
        w = wire_form(raw)
        p = pop(SRV, "pop3s")
        p.user(KIM[0])
        p.pass_(KIM[1])
        self.assertEqual(p.list(1), b"+OK 1 %d" % len(w))
        t0 = time.monotonic()
        resp, lines, octets = p.retr(1)
        self.assertEqual(octets, len(w))
        self.assertEqual(b"".join(ln + b"\r\n" for ln in lines), w)
        self.assertLess(time.monotonic() - t0, 30)
        p.quit()

    def test_parallel_sessions(self):
        """Four accounts, each with its own thread of sessions, and a fifth thread trying
        one of those accounts (it gets [IN-USE] or the maildrop, never anything else)."""
        for u in STRESS:
            mb = Mailbox(SRV, u)
            for i in range(3):
                mb.upload(simple("%s-%d" % (u[0], i), "x\r\n" * (i * 100 + 1)))
        errors = []

        def worker(u, rounds):
            try:
                for _ in range(rounds):
                    r = Raw(SRV, "pop3s", ip=SRV.new_ip())
                    got = r.login(u[0], u[1])
                    if got.startswith(b"-ERR [IN-USE]"):
                        r.close()
                        continue
                    CHK.assertTrue(got.startswith(b"+OK"), got)
                    r.send("STAT\r\nLIST\r\nRETR 2\r\nUIDL\r\nQUIT\r\n")
                    CHK.assertEqual(r.line(), b"+OK 3 %d" % sum(
                        len(wire_form(simple("%s-%d" % (u[0], i), "x\r\n" * (i * 100 + 1))))
                        for i in range(3)))
                    r.line()
                    r.multi()
                    CHK.assertRegex(r.line(), rb"^\+OK \d+ octets$")
                    CHK.assertIn(b"Subject: %s-1" % u[0].encode(), r.multi())
                    r.line()
                    CHK.assertEqual(len(r.multi().splitlines()), 3)
                    CHK.assertTrue(r.line().startswith(b"+OK"))
                    r.close()
            except BaseException as e:  # noqa: B902 (reported below)
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(u, 10)) for u in STRESS]
        threads.append(threading.Thread(target=worker, args=(STRESS[0], 10)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        SRV.assert_alive()


# ---------------------------------------------------------------------------------------------
# Real clients


def curl(args, timeout=60):
    return subprocess.run(["curl", "-sS", "--max-time", "30"] + args, capture_output=True,
                          timeout=timeout)


class Curl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("curl") is None:
            raise unittest.SkipTest("curl is not installed")
        cls.mb = Mailbox(SRV, FRANK)
        cls.msgs = [simple("curl-%d" % i, "body %d\r\n.dotted\r\n" % i) for i in range(3)]
        for m in cls.msgs:
            cls.mb.upload(m)

    def common(self, p):
        cert = os.path.join(SRV.data, "tls", "cert.pem")
        return ["--cacert", cert, "--resolve", "localhost:%d:127.0.0.1" % p,
                "-u", "%s:%s" % (FRANK[0], FRANK[1])]

    def test_pop3s_list_and_retrieve(self):
        p = port(SRV, "pop3s")
        cp = curl(self.common(p) + ["pop3s://localhost:%d/" % p])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        want = b"".join(b"%d %d\r\n" % (i + 1, len(wire_form(m))) for i, m in enumerate(self.msgs))
        self.assertEqual(cp.stdout, want)
        for i, m in enumerate(self.msgs):
            cp = curl(self.common(p) + ["pop3s://localhost:%d/%d" % (p, i + 1)])
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertEqual(cp.stdout, wire_form(m))  # curl removes the stuffing
        cp = curl(self.common(p) + ["-X", "UIDL", "pop3s://localhost:%d/" % p])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        uv = self.mb.uidvalidity()
        first = min(it["uid"] for it in self.mb.items())
        self.assertEqual(cp.stdout.splitlines()[0], b"1 %d.%d" % (uv, first))

    def test_pop3_with_stls(self):
        p = port(SRV, "pop3")
        cp = curl(self.common(p) + ["--ssl-reqd", "pop3://localhost:%d/2" % p])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, wire_form(self.msgs[1]))


class Mpop(unittest.TestCase):
    """mpop (Debian package mpop) downloading into an mbox: USER, PLAIN and SCRAM-SHA-256
    (GNU SASL's), delete after download, and keep + UIDLs."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("mpop") is None:
            raise unittest.SkipTest("mpop is not installed (apt-get install mpop)")
        cls.mb = Mailbox(SRV, GRACE)
        cls.dir = tempfile.mkdtemp(prefix="yz-mpop-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_mpop(self, auth, keep, mbox, tls_starttls=False, name="x"):
        conf = os.path.join(self.dir, "mpoprc-" + name)
        p = port(SRV, "pop3" if tls_starttls else "pop3s")
        with open(conf, "w") as f:
            f.write("defaults\n"
                    "tls on\n"
                    "tls_starttls %s\n"
                    "tls_trust_file %s\n"
                    "uidls_file %s\n"
                    "account grace\n"
                    "host localhost\n"
                    "port %d\n"
                    "user %s\n"
                    "password %s\n"
                    "auth %s\n"
                    "delivery mbox %s\n"
                    "keep %s\n" % ("on" if tls_starttls else "off",
                                   os.path.join(SRV.data, "tls", "cert.pem"),
                                   os.path.join(self.dir, "uidls-" + name), p, GRACE[0],
                                   GRACE[1], auth, mbox, "on" if keep else "off"))
        os.chmod(conf, 0o600)
        cp = subprocess.run(["mpop", "-C", conf, "-q", "grace"], capture_output=True, text=True,
                            timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        return cp

    @staticmethod
    def mbox_subjects(path):
        if not os.path.exists(path):
            return []
        with open(path, "rb") as f:
            data = f.read()
        return [m.decode() for m in re.findall(rb"(?m)^Subject: (.*?)\r?$", data)]

    def test_download_and_delete(self):
        subs = ["mpop-%d" % i for i in range(4)]
        for s in subs:
            self.mb.upload(simple(s, "line\r\n.starts with a dot\r\n"))
        mbox = os.path.join(self.dir, "del.mbox")
        self.run_mpop("user", keep=False, mbox=mbox, name="del")
        self.assertEqual(self.mbox_subjects(mbox), subs)
        with open(mbox, "rb") as f:
            data = f.read()
        self.assertEqual(data.count(b"\nFrom ") + data.startswith(b"From "), len(subs))
        self.assertRegex(data, rb"\n\.starts with a dot\r?\n")  # unstuffed
        self.assertEqual(self.mb.items(), [])  # deleted after download, at QUIT

    def test_keep_and_uidls(self):
        for auth, starttls in (("scram-sha-256", True), ("plain", False),
                               ("scram-sha-256", False)):
            with self.subTest(auth=auth, starttls=starttls):
                tag = "keep-%s-%d" % (auth, starttls)
                mbox = os.path.join(self.dir, tag + ".mbox")
                self.mb.upload(simple(tag + "-a"))
                self.run_mpop(auth, keep=True, mbox=mbox, tls_starttls=starttls, name=tag)
                self.assertIn(tag + "-a", self.mbox_subjects(mbox))
                n = len(self.mbox_subjects(mbox))
                # the second run knows every UIDL: nothing new comes
                self.run_mpop(auth, keep=True, mbox=mbox, tls_starttls=starttls, name=tag)
                self.assertEqual(len(self.mbox_subjects(mbox)), n)
                self.mb.upload(simple(tag + "-b"))
                self.run_mpop(auth, keep=True, mbox=mbox, tls_starttls=starttls, name=tag)
                self.assertEqual(self.mbox_subjects(mbox)[n:], [tag + "-b"])
        ok = [x for x in audit(SRV, "auth.login.ok") if x[0] == GRACE[0]]
        self.assertIn("scram-sha-256", {x[3]["method"] for x in ok})


# ---------------------------------------------------------------------------------------------
# Hostile input


class Hostile(unittest.TestCase):
    def test_100k_line(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.send(b"USER " + b"a" * 100000 + b"\r\n")
        self.assertEqual(r.line(), b"-ERR Line too long (the limit is 2048 bytes)")
        self.assertTrue(r.cmd("CAPA").startswith(b"+OK"))  # the stream is in step again
        r.multi()
        r.send(b"X" * 100000)  # no line end at all: nothing is buffered beyond the limit
        self.assertEqual(r.silent(0.3), b"")
        r.send(b"\r\nCAPA\r\n")
        self.assertTrue(r.line().startswith(b"-ERR Line too long"))
        self.assertTrue(r.line().startswith(b"+OK"))
        r.close()
        SRV.assert_alive()

    def test_nul_and_bare_cr(self):
        r = Raw(SRV, ip=SRV.new_ip())
        self.assertEqual(r.cmd("CA\0PA"), b"-ERR NUL or CR characters are not allowed in commands")
        self.assertEqual(r.cmd("CAPA\rX"), b"-ERR NUL or CR characters are not allowed in commands")
        r.send(b"AUTH SCRAM-SHA-256\r\n")
        self.assertEqual(r.line(), b"+ ")
        self.assertEqual(r.cmd("AA\0A"), b"-ERR NUL or CR characters are not allowed in commands")
        self.assertEqual(r.cmd("CAPA"), b"+OK Capability list follows")  # SASL was dropped
        r.multi()
        r.close()

    def test_bare_lf_lines(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.send(b"CAPA\n")
        self.assertTrue(r.line().startswith(b"+OK"))
        r.multi()
        r.close()

    def test_many_errors(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.send(b"".join(b"BOGUS%d\r\n" % i for i in range(20)))
        data, closed = r.read_to_close()
        lines = data.split(b"\r\n")
        self.assertTrue(closed)
        self.assertEqual(lines.count(b"-ERR Syntax error") + lines.count(b"-ERR Unknown command"),
                         10)
        self.assertIn(b"-ERR Too many errors, closing connection", lines)
        r.close()

    def test_pipelined_garbage_after_stls_gets_no_reply(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.send("STLS\r\nUSER %s\r\nPASS %s\r\nCAPA\r\nBOGUS\r\n" % ALICE[:2])
        self.assertEqual(r.line(), b"+OK Begin TLS negotiation")
        time.sleep(0.2)  # the rest has certainly arrived before the handshake
        self.assertEqual(r.buf, b"")
        r.sock = tls_ctx(SRV).wrap_socket(r.sock, server_hostname="localhost")
        self.assertEqual(r.silent(0.5), b"")  # nothing of the injected commands
        self.assertEqual(r.cmd("STAT"), b"-ERR Not logged in")  # USER/PASS did not happen
        r.close()

    def test_plaintext_instead_of_handshake(self):
        r = Raw(SRV, ip=SRV.new_ip())
        self.assertEqual(r.cmd("STLS"), b"+OK Begin TLS negotiation")
        r.send(b"CAPA\r\nUSER x\r\n")
        data, closed = r.read_to_close()
        self.assertTrue(closed)
        self.assertNotIn(b"+OK", data)
        self.assertNotIn(b"-ERR", data)
        r.close()
        SRV.assert_alive()

    def test_http_request(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data, closed = r.read_to_close()
        self.assertTrue(closed)
        self.assertEqual(data, b"-ERR This is a POP3 server; closing connection\r\n")
        r.close()

    def test_garbage_on_995(self):
        s = socket.create_connection(("127.0.0.1", port(SRV, "pop3s")), 10)
        s.sendall(b"USER x\r\n" * 100)
        s.settimeout(10)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        self.assertNotIn(b"+OK", data)
        s.close()
        SRV.assert_alive()


class Limits(unittest.TestCase):
    def test_idle_timeout(self):
        r = Raw(SRVT, ip=SRVT.new_ip())
        t0 = time.monotonic()
        data, closed = r.read_to_close(LIM_TIMEOUT + 8)
        self.assertTrue(closed)
        self.assertEqual(data, b"-ERR Autologout; idle for too long\r\n")
        self.assertGreaterEqual(time.monotonic() - t0, LIM_TIMEOUT - 0.5)
        r.close()

    def test_timeout_in_transaction_deletes_nothing(self):
        mb = Mailbox(SRVT, ALICE)
        mb.upload(simple("stays"))
        r = Raw(SRVT, "pop3s", ip=SRVT.new_ip())
        self.assertTrue(r.login(ALICE[0], ALICE[1]).startswith(b"+OK"))
        self.assertTrue(r.cmd("DELE 1").startswith(b"+OK"))
        data, closed = r.read_to_close(LIM_TIMEOUT + 8)
        self.assertTrue(closed)
        self.assertEqual(data, b"-ERR Autologout; idle for too long\r\n")
        r.close()
        self.assertIn("stays", [it["subject"] for it in mb.items()])

    def test_sessions_per_ip(self):
        ip = SRVT.new_ip()
        held = [Raw(SRVT, ip=ip) for _ in range(LIM_PER_IP)]
        r = Raw(SRVT, ip=ip, greet=False)
        data, closed = r.read_to_close()
        self.assertEqual(data, b"-ERR [SYS/TEMP] Too many connections, try again later\r\n")
        self.assertTrue(closed)
        r.close()
        r = Raw(SRVT, "pop3s", ip=ip, greet=False)  # over implicit TLS too, after the handshake
        data, closed = r.read_to_close()
        self.assertEqual(data, b"-ERR [SYS/TEMP] Too many connections, try again later\r\n")
        r.close()
        for h in held:
            h.close()
        time.sleep(0.3)
        r = Raw(SRVT, ip=ip)  # another address or a freed slot works
        self.assertTrue(r.greeting.startswith(b"+OK"))
        r.close()

    def test_stop_with_open_sessions(self):
        """SIGTERM while sessions are open (one in the TRANSACTION state with a DELE): the
        daemon exits cleanly and nothing is deleted."""
        mb = Mailbox(SRVT, ALICE)
        mb.upload(simple("survives a restart"))
        a = Raw(SRVT, "pop3s", ip=SRVT.new_ip())
        self.assertTrue(a.login(ALICE[0], ALICE[1]).startswith(b"+OK"))
        n = int(a.cmd("STAT").split()[1])
        self.assertTrue(a.cmd("DELE %d" % n).startswith(b"+OK"))
        b = Raw(SRVT, ip=SRVT.new_ip())
        b.send(b"AUTH SCRAM-SHA-256\r\n")
        self.assertEqual(b.line(), b"+ ")
        SRVT.restart()
        self.assertTrue(a.read_to_close()[1])
        self.assertTrue(b.read_to_close()[1])
        a.close()
        b.close()
        mb = Mailbox(SRVT, ALICE)
        self.assertIn("survives a restart", [it["subject"] for it in mb.items()])

    def test_line_length_and_errors(self):
        r = Raw(SRVT, ip=SRVT.new_ip())
        self.assertEqual(r.cmd("CAPA " + "x" * (LIM_LINE - 5)), b"-ERR Syntax: CAPA")  # at the limit
        self.assertEqual(r.cmd("CAPA " + "x" * (LIM_LINE - 4)),
                         b"-ERR Line too long (the limit is %d bytes)" % LIM_LINE)
        self.assertEqual(r.cmd("NOPE"), b"-ERR Unknown command")
        r.send(b"NOPE\r\n")
        data, closed = r.read_to_close()
        self.assertEqual(data, b"-ERR Unknown command\r\n-ERR Too many errors, closing connection\r\n")
        self.assertTrue(closed)
        r.close()
        SRVT.assert_alive()


if __name__ == "__main__":
    yz.main()
