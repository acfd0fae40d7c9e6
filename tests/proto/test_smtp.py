#!/usr/bin/env python3
"""The SMTP listeners (server/smtp/): port 25 inbound, 587 submission with STARTTLS, 465 with
implicit TLS. EHLO capabilities per port and TLS state; inbound mail for a local user (queue
id, audit record, the delivered message with its Received header); unknown recipients
(550 5.1.1, the growing tarpit, the drop); relay refused; AUTH PLAIN / LOGIN over STARTTLS and
over 465, SCRAM-SHA-256 without TLS; wrong passwords and the lockout; MAIL FROM the user does
not own; PIPELINING; SIZE, 8BITMIME, SMTPUTF8 (a Chinese local part); DSN parameters stored
in queue.db; BDAT; swaks and msmtp through 587 with STARTTLS + AUTH; messages per hour; idle
and DATA timeouts; sessions per IP and in total.

Clients: Python's smtplib, raw sockets where the bytes matter, swaks and msmtp. Remote mail is
sent to a relay host that is not listening, so it stays in queue.db to be looked at.
App passwords and aliases are made with `yizhan app-password` and `yizhan alias` while the
daemon runs."""

import base64
import hmac
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

import yzharness as yz

D = yz.DOMAIN
ALICE = ("alice@" + D, "alice-password-1", "user", "Alice")      # inbound, capabilities
BOB = ("bob@" + D, "bob-password-1", "user", "Bob")              # submission
CAROL = ("carol@" + D, "carol-password-1", "user", "Carol")      # SCRAM
DAN = ("dan@" + D, "dan-password-1", "user", "Dan")              # lockout
ERIN = ("erin@" + D, "erin-password-1", "user", "Erin")          # rate limit
FRANK = ("frank@" + D, "frank-password-1", "user", "Frank")      # swaks / msmtp
GRACE = ("grace@" + D, "grace-password-1", "user", "Grace")      # DSN, BDAT, extensions
ZHANG = ("张三@" + D, "zhang-password-1", "user", "张三")          # SMTPUTF8 local part
HANA = ("hana@" + D, "hana-password-1", "user", "Hana")          # app passwords
IVAN = ("ivan@" + D, "ivan-password-1", "user", "Ivan")          # aliases, lists
ADMIN = ("sa@" + D, "sa-password-123", "sysadmin", "Sys Admin")

TARPIT_MS = 150
MAX_BAD = 3
MAX_MESSAGE = 300000
MAX_RCPTS = 5
PER_HOUR = 20

SRV = None   # the main server
SRVT = None  # short timeouts, few sessions
CHK = unittest.TestCase()


def start_server(name, smtp_conf, users, auth_conf=None):
    srv = yz.offline_server(users=users, name=name)
    try:
        yz.conf_append(srv.data, "smtp", smtp_conf)
        # remote mail goes to a relay that does not answer: it stays queued for inspection
        yz.conf_append(srv.data, "queue", {"relay_host": "127.0.0.1",
                                           "relay_port": srv.base + 999})
        # DNS (SPF, DKIM, DMARC) goes to a local port where nobody answers: the tests stay
        # off the network and its timeouts ("temperror" results come at once)
        yz.conf_append(srv.data, "dns", {"servers": "127.0.0.1:%d" % (srv.base + 998),
                                         "timeout": 1})
        if auth_conf:
            yz.conf_append(srv.data, "auth", auth_conf)
        srv.launch()
    except BaseException:
        srv.stop(raise_on_error=False)
        raise
    return srv


def setUpModule():
    global SRV, SRVT
    SRV = start_server("test_smtp", {
        "tarpit_ms": TARPIT_MS, "max_bad_recipients": MAX_BAD, "max_message": MAX_MESSAGE,
        "max_recipients": MAX_RCPTS, "messages_per_hour": PER_HOUR, "max_per_ip": 20,
    }, [ALICE, BOB, CAROL, DAN, ERIN, FRANK, GRACE, ZHANG, HANA, IVAN, ADMIN])
    SRVT = start_server("test_smtp_limits", {
        "timeout": 2, "data_timeout": 2, "max_per_ip": 3, "max_sessions": 6,
    }, [ALICE])


def tearDownModule():
    yz.stop_all(SRV, SRVT)


# ---------------------------------------------------------------------------------------------
# Clients


def port(srv, kind):
    return srv.base + {"mx": 25, "sub": 587, "subs": 465}[kind]


def tls_ctx(srv):
    return yz.tls_context(os.path.join(srv.data, "tls", "cert.pem"))


class Raw:
    """A line-level SMTP client over a raw socket: exact bytes out, replies parsed in."""

    def __init__(self, srv, kind="mx", ip=None, timeout=10.0, greet=True):
        self.srv = srv
        src = (ip, 0) if ip else None
        self.sock = socket.create_connection(("127.0.0.1", port(srv, kind)), timeout, src)
        self.buf = b""
        if kind == "subs":
            self.sock = tls_ctx(srv).wrap_socket(self.sock, server_hostname="localhost")
        self.greeting = self.reply() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("server closed the connection; buffered %r" % self.buf[:200])
        self.buf += chunk

    def reply(self):
        """One (possibly multi-line) reply: (code, [texts])."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[0][:3]), [ln[4:].decode("utf-8", "replace") for ln in lines]

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def ehlo(self, name="client.test"):
        code, lines = self.cmd("EHLO " + name)
        CHK.assertEqual(code, 250, lines)
        return {ln.split(" ", 1)[0].upper(): (ln.split(" ", 1)[1] if " " in ln else "")
                for ln in lines[1:]}

    def starttls(self):
        code, lines = self.cmd("STARTTLS")
        CHK.assertEqual(code, 220, lines)
        CHK.assertEqual(self.buf, b"", "bytes after the 220 of STARTTLS")
        self.sock = tls_ctx(self.srv).wrap_socket(self.sock, server_hostname="localhost")

    def silent(self, wait=0.5):
        """Bytes the server sends within `wait` seconds (b"" if none; None if it closed)."""
        self.sock.settimeout(max(wait, 0.01))
        try:
            data = self.sock.recv(65536)
            return self.buf + data if data else None
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return self.buf
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
        except (socket.timeout, ssl.SSLError):
            return data, False
        except (ConnectionResetError, BrokenPipeError):
            return data, True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def smtp(srv, kind="mx", ip=None, starttls=False, timeout=15):
    """smtplib to 'localhost' (the certificate's name) from a chosen loopback address."""
    src = (ip, 0) if ip else None
    if kind == "subs":
        s = smtplib.SMTP_SSL("localhost", port(srv, kind), timeout=timeout,
                             source_address=src, context=tls_ctx(srv))
    else:
        s = smtplib.SMTP("localhost", port(srv, kind), timeout=timeout, source_address=src)
    s.ehlo("client.test")
    if starttls:
        s.starttls(context=tls_ctx(srv))
        s.ehlo("client.test")
    return s


def message(subject, body="hello", frm="sender@remote.test", to="x@" + D, extra=()):
    hdrs = ["From: " + frm, "To: " + to, "Subject: " + subject,
            "Message-ID: <%s@test>" % base64.b32encode(os.urandom(10)).decode().lower(),
            "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())]
    hdrs += list(extra)
    return ("\r\n".join(hdrs) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


def qid_of(reply_text):
    m = re.search(r"queued as ([0-9a-f]{16})", reply_text)
    CHK.assertTrue(m, reply_text)
    return m.group(1)


def send_data(raw, data):
    """DATA with dot-stuffing done here; returns the final reply."""
    code, t = raw.cmd("DATA")
    CHK.assertEqual(code, 354, t)
    stuffed = re.sub(rb"(?m)^\.", b"..", data)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    raw.send(stuffed + b".\r\n")
    return raw.reply()


def scram_auth(raw, user, password, expect_ok=True):
    """AUTH SCRAM-SHA-256 over SMTP (RFC 4954 + RFC 5802); checks the server signature."""
    msg, bare, cnonce = yz.client_first(user)
    code, t = raw.cmd("AUTH SCRAM-SHA-256 " + yz.b64e(msg))
    if code != 334:
        return code, t
    server_first = yz.b64d(t[0]).decode("utf-8")
    a = yz.parse_scram_attrs(server_first)
    CHK.assertTrue(a["r"].startswith(cnonce) and len(a["r"]) > len(cnonce))
    fin = yz.client_final(password, bare, server_first, cnonce)
    code, t = raw.cmd(yz.b64e(fin.message))
    if code != 334:
        return code, t
    server_final = yz.b64d(t[0]).decode("ascii")
    CHK.assertTrue(server_final.startswith("v="), server_final)
    CHK.assertTrue(hmac.compare_digest(yz.b64d(server_final[2:]), fin.server_signature),
                   "wrong server signature")
    return raw.cmd("")


def queue_db(srv):
    return os.path.join(srv.data, "queue.db")


def queued(srv, qid):
    rows = yz.sql_read(queue_db(srv),
                       "SELECT sender, envid, ret_full, smtputf8, eightbit, source, auth_user,"
                       " helo, client_ip, blob, size, account_id FROM messages WHERE qid = ?",
                       (qid,))
    if not rows:
        return None
    keys = ("sender envid ret_full smtputf8 eightbit source auth_user helo client_ip blob size "
            "account_id").split()
    return dict(zip(keys, rows[0]))


def queued_rcpts(srv, qid):
    return yz.sql_read(queue_db(srv),
                       "SELECT r.rcpt, r.orcpt, r.notify FROM rcpts r JOIN messages m"
                       " ON m.id = r.msg_id WHERE m.qid = ? ORDER BY r.id", (qid,))


def blob(srv, digest):
    return yz.queued_body(srv.data, digest)


def audit(srv, type_prefix):
    rows = yz.sql_read(os.path.join(srv.data, "audit.db"),
                       "SELECT actor, type, ip, detail FROM audit WHERE type LIKE ? ORDER BY id",
                       (type_prefix + "%",))
    import json
    return [(a, t, ip, json.loads(d)) for a, t, ip, d in rows]


def wait_for(pred, timeout=15.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def accepted_record(srv, qid, timeout=10.0):
    return wait_for(lambda: next((r for r in audit(srv, "mail.accepted") if r[3]["qid"] == qid),
                                 None), timeout)


def inbox_message(srv, user, subject, timeout=20.0):
    """The delivered message with this subject in user's Inbox (via the mail API)."""
    s = yz.login(srv, user[0], user[1], source_ip=srv.new_ip())

    def find():
        r = s.get("/api/v1/messages?limit=100")
        if r.status != 200:
            return None
        for it in r.json()["items"]:
            if it.get("subject") == subject:
                return it
        return None
    it = wait_for(find, timeout)
    return s, it


# ---------------------------------------------------------------------------------------------


class Capabilities(unittest.TestCase):
    BASE = {"PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN",
            "CHUNKING"}

    def test_greeting(self):
        r = Raw(SRV, ip=SRV.new_ip())
        code, t = r.greeting
        self.assertEqual(code, 220)
        self.assertRegex(t[0], r"^\S+ ESMTP Yizhan$")
        r.close()

    def test_port25_plain(self):
        r = Raw(SRV, ip=SRV.new_ip())
        f = r.ehlo()
        self.assertEqual(set(f), self.BASE | {"STARTTLS"})
        self.assertEqual(f["SIZE"], str(MAX_MESSAGE))
        code, t = r.cmd("AUTH PLAIN " + yz.b64e("\0alice@example.test\0x"))
        self.assertEqual(code, 538, t)  # no AUTH on port 25 before STARTTLS
        r.close()

    def test_port25_after_starttls(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        r.starttls()
        f = r.ehlo()
        self.assertEqual(set(f), self.BASE | {"AUTH"})
        self.assertEqual(f["AUTH"].split(), ["PLAIN", "LOGIN", "SCRAM-SHA-256"])
        r.close()

    def test_submission_plain(self):
        r = Raw(SRV, "sub", ip=SRV.new_ip())
        f = r.ehlo()
        self.assertEqual(set(f), self.BASE | {"STARTTLS", "AUTH"})
        self.assertEqual(f["AUTH"].split(), ["SCRAM-SHA-256"])
        r.close()

    def test_submission_after_starttls(self):
        r = Raw(SRV, "sub", ip=SRV.new_ip())
        r.ehlo()
        r.starttls()
        f = r.ehlo()
        self.assertEqual(set(f), self.BASE | {"AUTH"})
        self.assertEqual(f["AUTH"].split(), ["PLAIN", "LOGIN", "SCRAM-SHA-256"])
        r.close()

    def test_submissions_implicit_tls(self):
        r = Raw(SRV, "subs", ip=SRV.new_ip())
        self.assertEqual(r.greeting[0], 220)
        self.assertIn(r.sock.version(), ("TLSv1.2", "TLSv1.3"))
        f = r.ehlo()
        self.assertEqual(set(f), self.BASE | {"AUTH"})
        r.close()

    def test_tls_1_1_refused(self):
        ctx = tls_ctx(SRV)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        with socket.create_connection(("127.0.0.1", port(SRV, "subs")), 5) as s:
            with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
                ctx.wrap_socket(s, server_hostname="localhost")

    def test_starttls_resets_session(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        r.starttls()
        code, t = r.cmd("MAIL FROM:<a@remote.test>")
        self.assertEqual((code, t[0][:5]), (503, "5.5.1"), t)  # EHLO is forgotten
        r.ehlo()
        self.assertEqual(r.cmd("STARTTLS")[0], 503)  # only once
        r.close()

    def test_helo_and_basic_commands(self):
        r = Raw(SRV, ip=SRV.new_ip())
        code, t = r.cmd("HELO client.test")
        self.assertEqual(code, 250)
        for line, want in (("NOOP", (250, "2.0.0")), ("RSET", (250, "2.0.0")),
                           ("VRFY alice@example.test", (252, "2.0.0")),
                           ("EXPN staff@example.test", (502, "5.5.1")),
                           ("HELP", (214, "2.0.0")), ("FOO bar", (500, "5.5.2")),
                           ("RCPT TO:<alice@example.test>", (503, "5.5.1")),
                           ("DATA", (503, "5.5.1")), ("EHLO", (501, "5.5.4"))):
            code, t = r.cmd(line)
            self.assertEqual((code, t[0][:5]), want, line)
        code, t = r.cmd("QUIT")
        self.assertEqual((code, t[0][:5]), (221, "2.0.0"))
        data, closed = r.read_to_close(5)
        self.assertTrue(closed)
        r.close()

    def test_smtplib_sees_the_extensions(self):
        s = smtp(SRV, ip=SRV.new_ip())
        for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes",
                    "starttls", "dsn", "chunking"):
            self.assertTrue(s.has_extn(ext), ext)
        s.quit()


class Inbound(unittest.TestCase):
    def test_local_user_receives(self):
        ip = SRV.new_ip()
        subject = "inbound %d" % time.time_ns()
        s = smtp(SRV, ip=ip)
        resp = s.sendmail("sender@remote.test", [ALICE[0]], message(subject, to=ALICE[0]))
        self.assertEqual(resp, {})
        code, text = s.noop()
        self.assertEqual(code, 250)
        s.quit()
        rec = wait_for(lambda: [r for r in audit(SRV, "mail.accepted")
                                if r[3]["recipients"] == [ALICE[0]]
                                and r[3]["client_ip"] == ip])
        self.assertTrue(rec, "no mail.accepted audit record")
        actor, _t, aip, d = rec[-1]
        self.assertEqual((actor, aip), ("-", ip))
        self.assertEqual((d["sender"], d["source"], d["port"], d["helo"], d["user"]),
                         ("sender@remote.test", "inbound", port(SRV, "mx"), "client.test", None))
        self.assertRegex(d["qid"], r"^[0-9a-f]{16}$")
        self.assertGreater(d["size"], 100)
        # delivered: the mail API shows it, with our Received header on top
        sess, it = inbox_message(SRV, ALICE, subject)
        self.assertTrue(it, "the message never reached the Inbox")
        raw = sess.get("/api/v1/messages/%d/raw" % it["id"]).body
        first = raw.split(b"\r\n\r\n", 1)[0]
        # SPF/DKIM/DMARC ran (DNS unreachable here: temperror/none), their header on top
        self.assertRegex(first, rb"^Authentication-Results: \S+; spf=\w+ .*dkim=\w+.*dmarc=\w+")
        first = first.split(b"\r\n", 1)[1]
        self.assertTrue(first.startswith(b"Received: from client.test (unknown [%s])"
                                         % ip.encode()), first[:300])
        recv = re.search(rb"^Received:.*?(?=\r\n\S)", raw, re.S | re.M).group(0)
        self.assertIn(b"with ESMTP", recv)
        self.assertIn(b"for <%s>;" % ALICE[0].encode(), recv)
        self.assertRegex(recv, rb"; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000$")

    def test_unknown_user_tarpit_then_drop(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        self.assertEqual(r.cmd("MAIL FROM:<harvester@remote.test>")[0], 250)
        times = []
        for i in range(1, MAX_BAD + 1):
            t0 = time.monotonic()
            code, t = r.cmd("RCPT TO:<nobody%d@%s>" % (i, D))
            times.append(time.monotonic() - t0)
            self.assertEqual((code, t[0][:5]), (550, "5.1.1"), t)
            self.assertGreaterEqual(times[-1], TARPIT_MS * i / 1000.0 * 0.9, times)
        # after max_bad_recipients the client is dropped
        code, t = r.reply()
        self.assertEqual((code, t[0][:5]), (421, "4.7.0"), t)
        data, closed = r.read_to_close(5)
        self.assertTrue(closed)
        self.assertGreater(times[-1], times[0])
        r.close()
        self.assertTrue(wait_for(lambda: [x for x in audit(SRV, "mail.refused")
                                          if x[3]["reason"] == "too many unknown recipients"]))

    def test_known_user_after_unknown_still_works(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        r.cmd("MAIL FROM:<a@remote.test>")
        self.assertEqual(r.cmd("RCPT TO:<ghost@%s>" % D)[0], 550)
        self.assertEqual(r.cmd("RCPT TO:<%s>" % ALICE[0])[0], 250)
        code, t = send_data(r, message("after unknown", to=ALICE[0]))
        self.assertEqual(code, 250, t)
        r.close()

    def test_relay_refused(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        r.cmd("MAIL FROM:<a@remote.test>")
        code, t = r.cmd("RCPT TO:<victim@elsewhere.test>")
        self.assertEqual((code, t[0][:5]), (554, "5.7.1"), t)
        self.assertIn("Relay access denied", t[0])
        self.assertEqual(r.cmd("DATA")[0], 554)  # no valid recipients
        r.close()
        self.assertTrue(wait_for(lambda: [x for x in audit(SRV, "mail.refused")
                                          if x[3].get("recipient") == "victim@elsewhere.test"]))

    def test_null_sender_and_postmaster(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        self.assertEqual(r.cmd("MAIL FROM:<>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<%s>" % ALICE[0])[0], 250)
        code, t = send_data(r, message("bounce", frm="MAILER-DAEMON@remote.test"))
        self.assertEqual(code, 250, t)
        # "<Postmaster>" without a domain is accepted syntax (RFC 5321 4.1.1.3); here it
        # names the default domain's postmaster, who does not exist
        r.cmd("MAIL FROM:<a@remote.test>")
        code, t = r.cmd("RCPT TO:<Postmaster>")
        self.assertIn(code, (250, 550), t)
        r.close()

    def test_recipient_case_and_duplicates(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        r.cmd("MAIL FROM:<a@remote.test>")
        self.assertEqual(r.cmd("RCPT TO:<Alice@Example.Test>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<alice@example.test>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<alice+news@example.test>")[0], 250)
        code, t = send_data(r, message("dups"))
        self.assertEqual(code, 250, t)
        rec = accepted_record(SRV, qid_of(t[0]))
        self.assertEqual(rec[3]["recipients"], ["Alice@Example.Test", "alice+news@example.test"])
        r.close()

    def test_max_recipients(self):
        s = smtp(SRV, "sub", ip=SRV.new_ip(), starttls=True)
        s.login(BOB[0], BOB[1])
        s.mail(BOB[0])
        for i in range(MAX_RCPTS):
            self.assertEqual(s.rcpt("r%d@remote.test" % i)[0], 250)
        code, text = s.rcpt("one-too-many@remote.test")
        self.assertEqual(code, 452)
        self.assertTrue(text.startswith(b"4.5.3"), text)
        code, text = s.data(message("five recipients"))
        self.assertEqual(code, 250, text)
        qid = qid_of(text.decode())
        self.assertEqual(len(queued_rcpts(SRV, qid)), MAX_RCPTS)
        s.quit()


class Submission(unittest.TestCase):
    def test_auth_required(self):
        for kind in ("sub", "subs"):
            r = Raw(SRV, kind, ip=SRV.new_ip())
            r.ehlo()
            code, t = r.cmd("MAIL FROM:<%s>" % BOB[0])
            self.assertEqual((code, t[0][:5]), (530, "5.7.0"), kind)
            r.close()

    def test_plain_over_starttls(self):
        s = smtp(SRV, "sub", ip=SRV.new_ip(), starttls=True)
        code, text = s.login(BOB[0], BOB[1])  # smtplib picks PLAIN
        self.assertEqual(code, 235)
        self.assertTrue(text.startswith(b"2.7.0"), text)
        code, text = s.mail(BOB[0])
        self.assertEqual(code, 250)
        s.rcpt("friend@remote.test")
        s.rcpt(ALICE[0])
        code, text = s.data(message("plain over starttls", frm=BOB[0]))
        self.assertEqual(code, 250, text)
        qid = qid_of(text.decode())
        q = queued(SRV, qid)
        self.assertEqual((q["sender"], q["source"], q["auth_user"], q["helo"]),
                         (BOB[0], 2, BOB[0], "client.test"))
        self.assertEqual(q["account_id"], yz.account_id(SRV.data, BOB[0]))
        head = blob(SRV, q["blob"]).split(b"\r\n\r\n", 1)[0]
        self.assertRegex(head, rb"^Received: from client\.test \(unknown \[127\.[0-9.]+\]\)\r\n"
                               rb"\tby \S+ \(Yizhan\) with ESMTPSA\r\n\t\(TLSv1\.[23] with cipher "
                               rb"[A-Z0-9_-]+\)\r\n\t\(multiple recipients\); ")
        s.quit()
        rec = accepted_record(SRV, qid)
        self.assertEqual((rec[0], rec[3]["user"], rec[3]["source"], rec[3]["tls"]),
                         (BOB[0], BOB[0], "submission", True))
        oks = [x for x in audit(SRV, "auth.login.ok") if x[0] == BOB[0]]
        self.assertTrue(oks)
        self.assertEqual((oks[-1][3]["protocol"], oks[-1][3]["method"], oks[-1][3]["port"]),
                         ("smtp", "plain", port(SRV, "sub")))

    def test_login_over_465(self):
        s = smtp(SRV, "subs", ip=SRV.new_ip())
        s.user, s.password = BOB[0], BOB[1]
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        self.assertEqual(code, 235, text)
        s.sendmail(BOB[0], ["far@remote.test"], message("login over 465", frm=BOB[0]))
        s.quit()
        oks = [x for x in audit(SRV, "auth.login.ok") if x[3]["method"] == "login"]
        self.assertEqual(oks[-1][3]["port"], port(SRV, "subs"))

    def test_smtplib_login_is_login_mechanism(self):
        # smtplib's own LOGIN with the user name as initial response
        s = smtp(SRV, "subs", ip=SRV.new_ip())
        s.user, s.password = BOB[0], BOB[1]
        code, _ = s.auth("LOGIN", s.auth_login)
        self.assertEqual(code, 235)
        s.quit()

    def test_plain_before_tls_refused(self):
        r = Raw(SRV, "sub", ip=SRV.new_ip())
        r.ehlo()
        for line in ("AUTH PLAIN " + yz.b64e("\0%s\0%s" % (BOB[0], BOB[1])), "AUTH LOGIN",
                     "AUTH PLAIN"):
            code, t = r.cmd(line)
            self.assertEqual((code, t[0][:6]), (538, "5.7.11"), line)
        r.close()

    def test_scram_without_tls(self):
        r = Raw(SRV, "sub", ip=SRV.new_ip())
        r.ehlo()
        code, t = scram_auth(r, CAROL[0], CAROL[1])
        self.assertEqual((code, t[0][:5]), (235, "2.7.0"), t)
        self.assertEqual(r.cmd("MAIL FROM:<%s>" % CAROL[0])[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<pal@remote.test>")[0], 250)
        code, t = send_data(r, message("scram", frm=CAROL[0]))
        self.assertEqual(code, 250, t)
        q = queued(SRV, qid_of(t[0]))
        self.assertEqual(q["auth_user"], CAROL[0])
        self.assertIn(b"with ESMTPA\r\n", blob(SRV, q["blob"])[:400])
        self.assertEqual(r.cmd("AUTH PLAIN =")[0], 503)  # already authenticated
        r.close()

    def test_scram_over_465_and_after_starttls_on_25(self):
        r = Raw(SRV, "subs", ip=SRV.new_ip())
        r.ehlo()
        self.assertEqual(scram_auth(r, CAROL[0], CAROL[1])[0], 235)
        r.close()
        r = Raw(SRV, "mx", ip=SRV.new_ip())
        r.ehlo()
        r.starttls()
        r.ehlo()
        self.assertEqual(scram_auth(r, CAROL[0], CAROL[1])[0], 235)
        # authenticated on port 25: may relay, as submission
        self.assertEqual(r.cmd("MAIL FROM:<%s>" % CAROL[0])[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<x@remote.test>")[0], 250)
        r.close()

    def test_scram_wrong_and_unknown(self):
        for user, pw in ((CAROL[0], "wrong-password"), ("nobody@" + D, "whatever-pw")):
            r = Raw(SRV, "sub", ip=SRV.new_ip())
            r.ehlo()
            msg, bare, cnonce = yz.client_first(user)
            code, t = r.cmd("AUTH SCRAM-SHA-256 " + yz.b64e(msg))
            self.assertEqual(code, 334, t)
            a = yz.parse_scram_attrs(yz.b64d(t[0]).decode())
            self.assertEqual(set(a), {"r", "s", "i"})  # unknown looks like known
            fin = yz.client_final(pw, bare, yz.b64d(t[0]).decode(), cnonce)
            code, t = r.cmd(yz.b64e(fin.message))
            self.assertEqual((code, t[0][:5]), (535, "5.7.8"), (user, t))
            r.close()

    def test_sasl_cancel_and_garbage(self):
        r = Raw(SRV, "sub", ip=SRV.new_ip())
        r.ehlo()
        r.starttls()
        r.ehlo()
        self.assertEqual(r.cmd("AUTH PLAIN")[0], 334)
        code, t = r.cmd("*")
        self.assertEqual((code, t[0][:5]), (501, "5.7.0"))
        self.assertEqual(r.cmd("AUTH PLAIN")[0], 334)
        self.assertEqual(r.cmd("%%%not base64")[0], 501)
        self.assertEqual(r.cmd("AUTH CRAM-MD5")[0], 504)
        self.assertEqual(r.cmd("AUTH PLAIN " + yz.b64e("only-one-part"))[0], 501)
        self.assertEqual(r.cmd("AUTH PLAIN " + yz.b64e("someone-else\0%s\0%s" % BOB[:2]))[0],
                         501)  # no acting for another user
        self.assertEqual(r.cmd("NOOP")[0], 250)
        r.close()

    def test_wrong_password_and_lockout(self):
        ip = SRV.new_ip()
        codes = []
        for _ in range(12):
            s = smtp(SRV, "sub", ip=ip, starttls=True)
            try:
                s.login(DAN[0], "not-the-password")
                self.fail("a wrong password was accepted")
            except smtplib.SMTPAuthenticationError as e:
                codes.append((e.smtp_code, e.smtp_error[:5]))
            s.close()
            if codes[-1][0] == 454:
                break
        self.assertEqual(codes[0], (535, b"5.7.8"))
        self.assertEqual(codes[-1], (454, b"4.7.0"), codes)
        # locked: the right password is refused too, with the time to wait
        s = smtp(SRV, "sub", ip=ip, starttls=True)
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            s.login(DAN[0], DAN[1])
        self.assertEqual(cm.exception.smtp_code, 454)
        wait = int(re.search(rb"in (\d+) seconds", cm.exception.smtp_error).group(1))
        s.close()
        self.assertLessEqual(wait, 16)
        time.sleep(wait + 1.1)
        s = smtp(SRV, "sub", ip=ip, starttls=True)
        self.assertEqual(s.login(DAN[0], DAN[1])[0], 235)
        s.quit()
        fails = [x for x in audit(SRV, "auth.login.fail") if x[0] == DAN[0]]
        self.assertGreaterEqual(len(fails), 3)
        self.assertTrue(all(x[3]["protocol"] == "smtp" and x[2] == ip for x in fails))
        self.assertIn("locked", [x[3]["reason"] for x in fails])

    def test_unknown_user_same_answer(self):
        s = smtp(SRV, "sub", ip=SRV.new_ip(), starttls=True)
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            s.login("nobody-here@" + D, "x-password-123")
        self.assertEqual((cm.exception.smtp_code, cm.exception.smtp_error),
                         (535, b"5.7.8 Authentication credentials invalid"))
        s.close()

    def test_admin_cannot_send(self):
        s = smtp(SRV, "sub", ip=SRV.new_ip(), starttls=True)
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            s.login(ADMIN[0], ADMIN[1])
        self.assertEqual(cm.exception.smtp_code, 535)
        s.close()

    def test_sender_not_owned(self):
        s = smtp(SRV, "sub", ip=SRV.new_ip(), starttls=True)
        s.login(BOB[0], BOB[1])
        for sender in (ALICE[0], "bob@remote.test", ""):
            code, text = s.mail(sender)
            self.assertEqual(code, 553, sender)
            self.assertTrue(text.startswith(b"5.7.1"), text)
        code, _ = s.mail("Bob@Example.Test")  # the user's own address, any case
        self.assertEqual(code, 250)
        s.rset()
        code, _ = s.mail("bob+lists@example.test")  # sub-addressing is still Bob
        self.assertEqual(code, 250)
        s.quit()
        self.assertTrue(wait_for(lambda: [
            x for x in audit(SRV, "mail.refused")
            if x[3]["reason"] == "sender not allowed for this user"
            and x[3]["sender"] == ALICE[0] and x[0] == BOB[0]]))

    def test_messages_per_hour(self):
        s = smtp(SRV, "sub", ip=SRV.new_ip(), starttls=True)
        s.login(ERIN[0], ERIN[1])
        for i in range(PER_HOUR):
            self.assertEqual(s.sendmail(ERIN[0], ["x@remote.test"],
                                        message("rate %d" % i, frm=ERIN[0])), {})
        code, text = s.mail(ERIN[0])
        self.assertEqual(code, 450, text)
        self.assertTrue(text.startswith(b"4.7.1"), text)
        s.quit()


class AppPasswordsAndAliases(unittest.TestCase):
    def cli(self, *args):
        cp = SRV.cli_data(*args)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        return cp.stdout

    def plain(self, user, password, kind="subs"):
        """AUTH PLAIN; waits out the failure throttle (earlier failures of this test)."""
        for _ in range(5):
            r = Raw(SRV, kind, ip=SRV.new_ip())
            r.ehlo()
            code, t = r.cmd("AUTH PLAIN " + yz.b64e("\0%s\0%s" % (user, password)))
            if code != 454:
                return r, code
            r.close()
            time.sleep(int(re.search(r"in (\d+) seconds", t[0]).group(1)) + 0.5)
        return r, code

    def test_app_passwords(self):
        out = self.cli("app-password", "add", HANA[0], "--name", "Thunderbird")
        apppw = out.splitlines()[0].strip()
        app_id = int(re.search(r"app password (\d+)", out).group(1))
        r, code = self.plain(HANA[0], apppw)
        self.assertEqual(code, 235)
        self.assertEqual(r.cmd("MAIL FROM:<%s>" % HANA[0])[0], 250)
        r.close()
        ok = wait_for(lambda: [x for x in audit(SRV, "auth.login.ok")
                               if x[0] == HANA[0] and x[3].get("app_password") == app_id])
        self.assertTrue(ok, "the audit record does not name the app password")
        # SCRAM knows only the account password
        r = Raw(SRV, "sub", ip=SRV.new_ip())
        r.ehlo()
        self.assertEqual(scram_auth(r, HANA[0], apppw)[0], 535)
        r.close()
        # only app passwords: the account password no longer works for mail clients
        self.cli("app-password", "require", HANA[0])
        r, code = self.plain(HANA[0], HANA[1])
        self.assertEqual(code, 535)
        r.close()
        r = Raw(SRV, "sub", ip=SRV.new_ip())
        r.ehlo()
        self.assertEqual(scram_auth(r, HANA[0], HANA[1])[0], 535)
        r.close()
        r, code = self.plain(HANA[0], apppw)
        self.assertEqual(code, 235)
        r.close()
        self.cli("app-password", "require", HANA[0], "--off")
        self.cli("app-password", "revoke", HANA[0], str(app_id))
        r, code = self.plain(HANA[0], apppw)
        self.assertEqual(code, 535)
        r.close()
        r, code = self.plain(HANA[0], HANA[1])
        self.assertEqual(code, 235)
        r.close()

    def test_aliases_and_lists(self):
        self.cli("alias", "add", "ivan.ivanov@" + D, IVAN[0])
        self.cli("alias", "add", "noreply-ivan@" + D, IVAN[0], "--no-send")
        self.cli("list", "add", "team-ivan@" + D, "--name", "Team")
        self.cli("list", "member", "team-ivan@" + D, IVAN[0])
        s = smtp(SRV, "subs", ip=SRV.new_ip())
        s.login(IVAN[0], IVAN[1])
        self.assertEqual(s.mail("ivan.ivanov@" + D)[0], 250)  # an alias he may send as
        s.rset()
        code, text = s.mail("noreply-ivan@" + D)
        self.assertEqual((code, text[:5]), (553, b"5.7.1"))
        s.quit()
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        r.cmd("MAIL FROM:<a@remote.test>")
        for rcpt in ("ivan.ivanov@" + D, "noreply-ivan@" + D, "team-ivan@" + D):
            self.assertEqual(r.cmd("RCPT TO:<%s>" % rcpt)[0], 250, rcpt)
        code, t = send_data(r, message("to the aliases"))
        self.assertEqual(code, 250, t)
        r.close()


class Pipelining(unittest.TestCase):
    def test_one_write_many_commands(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.send("EHLO pipe.test\r\nMAIL FROM:<p@remote.test>\r\nRCPT TO:<%s>\r\n"
               "RCPT TO:<x@elsewhere.test>\r\nNOOP\r\nDATA\r\n" % ALICE[0])
        codes = [c for c, _ in r.replies(6)]
        self.assertEqual(codes, [250, 250, 250, 554, 250, 354])
        body = message("pipelined 1")
        # the end of one message, a whole second transaction and QUIT in one write
        r.send(body + b".\r\nMAIL FROM:<p2@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n"
               % ALICE[0].encode())
        got = r.replies(4)
        self.assertEqual([c for c, _ in got], [250, 250, 250, 354], got)
        r.send(message("pipelined 2") + b".\r\nQUIT\r\n")
        got2 = r.replies(2)
        self.assertEqual([c for c, _ in got2], [250, 221])
        self.assertNotEqual(qid_of(got[0][1][0]), qid_of(got2[0][1][0]))
        r.close()

    def test_concurrent_sessions(self):
        """20 sessions x 10 messages at once: every 250 has its own queue id, and every one
        of them is in the audit trail (the committer batches them: group commit)."""
        import threading
        qids, errors = [], []
        lock = threading.Lock()

        def worker(n):
            try:
                r = Raw(SRV, ip=SRV.new_ip())
                r.ehlo()
                for i in range(10):
                    r.send("MAIL FROM:<c%d-%d@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                           % (n, i, ALICE[0]))
                    got = r.replies(3)
                    if [c for c, _ in got] != [250, 250, 354]:
                        raise AssertionError(got)
                    r.send(message("concurrent %d-%d" % (n, i)) + b".\r\n")
                    code, t = r.reply()
                    if code != 250:
                        raise AssertionError(t)
                    with lock:
                        qids.append(qid_of(t[0]))
                        per[n].append(qids[-1])
                r.cmd("QUIT")
                r.close()
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(e))
        per = [[] for _ in range(20)]
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - t0
        self.assertEqual(errors, [])
        self.assertEqual(len(qids), 200)
        self.assertEqual(len(set(qids)), 200)
        want = set(qids)
        self.assertTrue(wait_for(lambda: want <= {r[3]["qid"] for r in
                                                  audit(SRV, "mail.accepted")}, 30),
                        "accepted messages missing from the audit trail")
        # the audit thread writes what is queued in one transaction: still one record per
        # message, and each session's records in the order its messages were accepted
        order = [r[3]["qid"] for r in audit(SRV, "mail.accepted") if r[3]["qid"] in want]
        self.assertEqual(len(order), 200, "an accepted message has more than one record")
        pos = {q: k for k, q in enumerate(order)}
        for n in range(20):
            self.assertEqual(per[n], sorted(per[n], key=pos.get), "session %d out of order" % n)
        print("\n    200 messages over 20 sessions: %.2f s" % elapsed, end=" ")

    def test_replies_come_together(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        r.send("NOOP\r\n" * 50)
        time.sleep(0.3)
        data = r.silent(1.0)
        self.assertEqual(data.count(b"250 2.0.0 Ok\r\n"), 50)
        r.close()


class Extensions(unittest.TestCase):
    def authed(self, user=GRACE):
        s = smtp(SRV, "sub", ip=SRV.new_ip(), starttls=True)
        s.login(user[0], user[1])
        return s

    def test_size_declared_too_big(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        code, t = r.cmd("MAIL FROM:<a@remote.test> SIZE=%d" % (MAX_MESSAGE + 1))
        self.assertEqual((code, t[0][:5]), (552, "5.3.4"), t)
        self.assertEqual(r.cmd("MAIL FROM:<a@remote.test> SIZE=1000")[0], 250)
        self.assertEqual(r.cmd("RSET")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<a@remote.test> SIZE=12x")[0], 501)
        r.close()

    def test_data_over_the_limit(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        r.cmd("MAIL FROM:<big@remote.test>")
        r.cmd("RCPT TO:<%s>" % ALICE[0])
        line = b"x" * 998 + b"\r\n"
        code, t = send_data(r, message("too big") + line * (MAX_MESSAGE // 1000 + 50))
        self.assertEqual((code, t[0][:5]), (552, "5.3.4"), t)
        # the session goes on; nothing was queued
        self.assertEqual(r.cmd("NOOP")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<%s>" % ALICE[0])[0], 503)
        r.close()
        self.assertTrue(wait_for(lambda: [x for x in audit(SRV, "mail.refused")
                                          if x[3]["sender"] == "big@remote.test"]))
        self.assertFalse([x for x in audit(SRV, "mail.accepted")
                          if x[3]["sender"] == "big@remote.test"])

    def test_too_many_hops(self):
        # RFC 5321 section 6.3: a message that has passed 50 hosts is in a loop. 49 Received
        # fields plus ours is the limit; one more is refused, and the session goes on.
        def hops(n):
            return ["Received: from relay%d.remote.test by relay%d.remote.test; "
                    "Mon, 1 Jan 2024 00:00:00 +0000" % (i, i + 1) for i in range(n)]
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        for n, want in ((50, (554, "5.4.6")), (49, (250, "2.0.0"))):
            self.assertEqual(r.cmd("MAIL FROM:<loop@remote.test>")[0], 250)
            self.assertEqual(r.cmd("RCPT TO:<%s>" % ALICE[0])[0], 250)
            code, t = send_data(r, message("hops %d" % n, to=ALICE[0], extra=hops(n)))
            self.assertEqual((code, t[0][:5]), want, t)
            if code == 554:
                self.assertIn("hops", t[0])
        r.close()
        self.assertTrue(wait_for(lambda: [x for x in audit(SRV, "mail.refused")
                                          if x[3].get("reason") == "too many hops"]))

    def test_size_just_under(self):
        s = self.authed()
        body = b"y" * 76 + b"\r\n"
        msg = message("near the limit", frm=GRACE[0])
        msg += body * ((MAX_MESSAGE - len(msg) - 600) // len(body))
        self.assertEqual(s.sendmail(GRACE[0], ["z@remote.test"], msg), {})
        s.quit()

    def test_8bitmime(self):
        s = self.authed()
        msg = message("8bit", body="正文是八位的", frm=GRACE[0],
                      extra=["Content-Type: text/plain; charset=utf-8",
                             "Content-Transfer-Encoding: 8bit"])
        s.mail(GRACE[0], ["BODY=8BITMIME"])
        s.rcpt("eight@remote.test")
        code, text = s.data(msg)
        self.assertEqual(code, 250)
        q = queued(SRV, qid_of(text.decode()))
        self.assertEqual((q["eightbit"], q["smtputf8"]), (1, 0))
        self.assertIn("正文是八位的".encode(), blob(SRV, q["blob"]))
        self.assertEqual(s.mail(GRACE[0], ["BODY=BINARYMIME"])[0], 504)
        s.quit()

    def test_smtputf8(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        code, t = r.cmd("MAIL FROM:<发件人@例子.测试>")
        self.assertEqual((code, t[0][:5]), (553, "5.6.7"), t)
        self.assertEqual(r.cmd("MAIL FROM:<发件人@例子.测试> SMTPUTF8")[0], 250)
        code, t = r.cmd("RCPT TO:<%s>" % ZHANG[0])
        self.assertEqual(code, 250, t)  # a Chinese local part of a hosted user
        subject = "UTF-8 地址 %d" % time.time_ns()
        code, t = send_data(r, message(subject, frm="发件人@例子.测试", to=ZHANG[0]))
        self.assertEqual(code, 250, t)
        rec = accepted_record(SRV, qid_of(t[0]))
        self.assertEqual((rec[3]["sender"], rec[3]["recipients"]), ("发件人@例子.测试", [ZHANG[0]]))
        r.close()
        sess, it = inbox_message(SRV, ZHANG, subject)
        self.assertTrue(it, "UTF-8 addressed mail not delivered")
        raw = sess.get("/api/v1/messages/%d/raw" % it["id"]).body
        self.assertIn(b"with UTF8SMTP\r\n", raw[:600])

    def test_smtputf8_smtplib(self):
        s = self.authed()
        msg = message("utf8 via smtplib", frm=GRACE[0], to="王五@例子.测试")
        code, text = s.mail(GRACE[0], ["SMTPUTF8"])
        self.assertEqual(code, 250)
        self.assertEqual(s.rcpt("王五@例子.测试")[0], 250)
        code, text = s.data(msg)
        self.assertEqual(code, 250)
        q = queued(SRV, qid_of(text.decode()))
        self.assertEqual(q["smtputf8"], 1)
        self.assertEqual(queued_rcpts(SRV, qid_of(text.decode()))[0][0], "王五@例子.测试")
        s.quit()

    def test_dsn_params_in_queue(self):
        s = self.authed()
        code, _ = s.mail(GRACE[0], ["RET=HDRS", "ENVID=QQ+2B314+3D1"])
        self.assertEqual(code, 250)
        self.assertEqual(s.rcpt("d1@remote.test", ["NOTIFY=SUCCESS,DELAY",
                                                   "ORCPT=rfc822;d1+40remote.test"])[0], 250)
        self.assertEqual(s.rcpt("d2@remote.test", ["NOTIFY=NEVER"])[0], 250)
        self.assertEqual(s.rcpt("d3@remote.test")[0], 250)
        code, text = s.data(message("dsn", frm=GRACE[0]))
        self.assertEqual(code, 250)
        qid = qid_of(text.decode())
        q = queued(SRV, qid)
        self.assertEqual((q["envid"], q["ret_full"]), ("QQ+314=1", 0))
        self.assertEqual(queued_rcpts(SRV, qid), [
            ("d1@remote.test", "rfc822;d1@remote.test", 1 | 4),
            ("d2@remote.test", None, 8),
            ("d3@remote.test", None, 0)])
        s.mail(GRACE[0], ["RET=FULL"])
        s.rcpt("d4@remote.test")
        code, text = s.data(message("dsn full", frm=GRACE[0]))
        self.assertEqual(queued(SRV, qid_of(text.decode()))["ret_full"], 1)
        # refused forms
        s.mail(GRACE[0])
        for params, code in ((["NOTIFY=NEVER,SUCCESS"], 501), (["NOTIFY=SOMETIMES"], 501),
                             (["ORCPT=rfc822"], 501), (["ORCPT=;x"], 501),
                             (["ORCPT=rfc822;a+0Db"], 501), (["FOO=1"], 555)):
            self.assertEqual(s.rcpt("d5@remote.test", params)[0], code, params)
        s.quit()
        s = self.authed()  # a new session: the refusals above count as errors
        for params in (["RET=SOME"], ["ENVID=a+0D+0Ab"], ["ENVID=" + "x" * 101],
                       ["SIZE=1", "SIZE=2"]):
            self.assertEqual(s.mail(GRACE[0], params)[0], 501, params)
        self.assertEqual(s.mail(GRACE[0], ["X-UNKNOWN"])[0], 555)
        s.quit()

    def test_bdat(self):
        r = Raw(SRV, "subs", ip=SRV.new_ip())
        r.ehlo()
        code, _ = r.cmd("AUTH PLAIN " + yz.b64e("\0%s\0%s" % GRACE[:2]))
        self.assertEqual(code, 235)
        r.cmd("MAIL FROM:<%s>" % GRACE[0])
        r.cmd("RCPT TO:<b1@remote.test>")
        msg = message("bdat", body="line one\r\n.starts with a dot\r\nline three", frm=GRACE[0])
        a, b = msg[:40], msg[40:]
        r.send(b"BDAT %d\r\n" % len(a) + a)
        code, t = r.reply()
        self.assertEqual((code, t[0][:5]), (250, "2.0.0"), t)
        self.assertEqual(r.cmd("DATA")[0], 503)  # not during BDAT
        r.send(b"BDAT %d LAST\r\n" % len(b) + b)
        code, t = r.reply()
        self.assertEqual(code, 250, t)
        q = queued(SRV, qid_of(t[0]))
        stored = blob(SRV, q["blob"])
        self.assertTrue(stored.endswith(msg), stored[-200:])  # no dot-unstuffing in BDAT
        # BDAT 0 LAST ends a message too; pipelined chunks
        r.send(b"MAIL FROM:<%s>\r\nRCPT TO:<b2@remote.test>\r\nBDAT 4\r\nab\r\nBDAT 0 LAST\r\n"
               % GRACE[0].encode())
        got = r.replies(4)
        self.assertEqual([c for c, _ in got], [250, 250, 250, 250], got)
        stored = blob(SRV, queued(SRV, qid_of(got[3][1][0]))["blob"])
        self.assertRegex(stored, rb"(?s)^Received: .*\r\n\tfor <b2@remote\.test>; [^\r\n]+\r\nab\r\n$")
        r.close()

    def test_bdat_refused_chunks_are_still_read(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        chunk = b"RSET\r\nMAIL FROM:<x@remote.test>\r\n"
        r.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk + b"NOOP\r\n")
        code, t = r.reply()
        self.assertEqual(code, 503, t)
        self.assertEqual(r.reply()[0], 250)  # the NOOP; the chunk was not executed
        self.assertEqual(r.cmd("RCPT TO:<%s>" % ALICE[0])[0], 503)  # so no MAIL happened
        # too big as declared: read, refused, the transaction ends
        r.cmd("MAIL FROM:<x@remote.test>")
        r.cmd("RCPT TO:<%s>" % ALICE[0])
        big = b"z" * (MAX_MESSAGE + 10)
        r.send(b"BDAT %d LAST\r\n" % len(big) + big)
        code, t = r.reply()
        self.assertEqual((code, t[0][:5]), (552, "5.3.4"), t)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        # a size we cannot read: the stream cannot be resynchronised, so the session ends
        code, t = r.cmd("BDAT lots")
        self.assertEqual(code, 501)
        self.assertTrue(r.read_to_close(5)[1])
        r.close()


def swaks_tls():
    """swaks does TLS through Perl's Net::SSLeay (Debian: libnet-ssleay-perl)."""
    return shutil.which("swaks") and subprocess.run(
        ["perl", "-MNet::SSLeay", "-e1"], capture_output=True).returncode == 0


class Clients(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.join(SRV.root, "clients-%d" % time.time_ns())
        os.makedirs(self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    @unittest.skipUnless(swaks_tls(), "swaks or libnet-ssleay-perl not installed")
    def test_swaks_587_starttls_auth(self):
        for auth in ("PLAIN", "LOGIN"):
            cp = subprocess.run(
                ["swaks", "--server", "127.0.0.1", "--port", str(port(SRV, "sub")),
                 "--ehlo", "swaks.test", "--tls", "--auth", auth, "--auth-user", FRANK[0],
                 "--auth-password", FRANK[1], "--from", FRANK[0], "--to", "s@remote.test",
                 "--header", "Subject: swaks " + auth],
                capture_output=True, text=True, timeout=60)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            self.assertRegex(cp.stdout, r"<~\s+250 2\.0\.0 Ok: queued as [0-9a-f]{16}")
            self.assertIn("<~  235 2.7.0", cp.stdout)

    @unittest.skipUnless(swaks_tls(), "swaks or libnet-ssleay-perl not installed")
    def test_swaks_465(self):
        cp = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(port(SRV, "subs")), "--tlsc",
             "--auth", "PLAIN", "--auth-user", FRANK[0], "--auth-password", FRANK[1],
             "--from", FRANK[0], "--to", "t@remote.test"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    @unittest.skipUnless(shutil.which("swaks"), "swaks not installed")
    def test_swaks_inbound(self):
        cp = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(port(SRV, "mx")), "--from",
             "someone@remote.test", "--to", ALICE[0], "--pipeline"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        cp = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(port(SRV, "mx")), "--from",
             "someone@remote.test", "--to", "victim@elsewhere.test"],
            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("554 5.7.1", cp.stdout)

    def msmtp(self, auth, extra=()):
        cert = os.path.join(SRV.data, "tls", "cert.pem")
        args = ["msmtp", "--host=localhost", "--port=%d" % port(SRV, "sub"), "--tls=on",
                "--tls-starttls=on", "--tls-trust-file=" + cert, "--auth=" + auth,
                "--user=" + FRANK[0], "--passwordeval=echo " + FRANK[1],
                "--from=" + FRANK[0], "--domain=msmtp.test", "--logfile=-"] + list(extra)
        msg = message("msmtp " + auth, frm=FRANK[0], to="m@remote.test")
        return subprocess.run(args + ["m@remote.test"], input=msg, capture_output=True,
                              timeout=60)

    @unittest.skipUnless(shutil.which("msmtp"), "msmtp not installed")
    def test_msmtp_587(self):
        for auth in ("plain", "login", "scram-sha-256"):
            cp = self.msmtp(auth)
            out = (cp.stdout + cp.stderr).decode("utf-8", "replace")
            self.assertEqual(cp.returncode, 0, out)
            self.assertRegex(out, r"queued as [0-9a-f]{16}")
        cp = self.msmtp("plain", ["--passwordeval=echo wrong-password"])
        self.assertNotEqual(cp.returncode, 0)


class Limits(unittest.TestCase):
    """The server with timeout = 2, data_timeout = 2, max_per_ip = 3, max_sessions = 6."""

    def test_idle_timeout(self):
        r = Raw(SRVT, ip=SRVT.new_ip())
        r.ehlo()
        t0 = time.monotonic()
        data, closed = r.read_to_close(10)
        self.assertTrue(closed)
        self.assertTrue(data.startswith(b"421 4.4.2 "), data)
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        r.close()

    def test_data_timeout(self):
        r = Raw(SRVT, ip=SRVT.new_ip())
        r.ehlo()
        r.cmd("MAIL FROM:<a@remote.test>")
        r.cmd("RCPT TO:<%s>" % ALICE[0])
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: slow\r\n\r\nsome of it")
        data, closed = r.read_to_close(10)
        self.assertTrue(closed)
        self.assertTrue(data.startswith(b"421 4.4.2 "), data)
        r.close()

    def test_activity_keeps_it_open(self):
        r = Raw(SRVT, ip=SRVT.new_ip())
        for _ in range(4):
            time.sleep(1.0)
            self.assertEqual(r.cmd("NOOP")[0], 250)
        r.close()

    def test_sessions_per_ip(self):
        ip = SRVT.new_ip()
        open_ = [Raw(SRVT, ip=ip) for _ in range(3)]
        r = Raw(SRVT, ip=ip, greet=False)
        data, closed = r.read_to_close(5)
        self.assertTrue(data.startswith(b"421 4.7.0 "), data)
        self.assertTrue(closed)
        r.close()
        open_.pop().cmd("QUIT")
        time.sleep(0.3)
        r = Raw(SRVT, ip=ip)
        self.assertEqual(r.greeting[0], 220)
        for x in open_ + [r]:
            x.close()

    def test_sessions_in_total(self):
        conns = []
        try:
            for _ in range(3):
                ip = SRVT.new_ip()
                conns += [Raw(SRVT, ip=ip), Raw(SRVT, ip=ip)]
            r = Raw(SRVT, ip=SRVT.new_ip(), greet=False)
            data, closed = r.read_to_close(5)
            self.assertTrue(data.startswith(b"421 4.7.0 "), data)
            r.close()
            # implicit TLS: no plaintext 421, the connection just closes
            with socket.create_connection(("127.0.0.1", port(SRVT, "subs")), 5) as s:
                self.assertEqual(s.recv(100), b"")
        finally:
            for c in conns:
                c.close()
        time.sleep(0.3)
        r = Raw(SRVT, ip=SRVT.new_ip())
        self.assertEqual(r.greeting[0], 220)
        r.close()


if __name__ == "__main__":
    yz.main()
