#!/usr/bin/env python3
"""Attacks on the SMTP listeners: SMTP smuggling (every bare CR/LF end-of-data variant gives
no extra message), plaintext pipelined after STARTTLS (discarded: no reply, not executed),
NUL tricks, the open-relay address forms on port 25, AUTH PLAIN before TLS, 100 KB lines,
10,000 commands, too many errors, other protocols, and bounded memory while a client streams
a huge DATA or BDAT.

Raw sockets throughout: the point is the exact bytes."""

import os
import re
import socket
import ssl
import time
import unittest

import yzharness as yz
import test_smtp as base

D = yz.DOMAIN
ALICE = ("alice@" + D, "alice-password-1", "user", "Alice")
BOB = ("bob@" + D, "bob-password-1", "user", "Bob")
MAX_MESSAGE = 5 * 1024 * 1024

SRV = None
Raw = base.Raw


def setUpModule():
    global SRV
    # ASan keeps freed memory in quarantine (256 MiB by default), which would hide what the
    # server itself keeps: make it small so RSS shows live memory
    opts = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=4"
    SRV = base.start_server("test_smtp_security", {
        "max_message": MAX_MESSAGE, "tarpit_ms": 50, "max_bad_recipients": 50,
        "max_per_ip": 100, "timeout": 60, "data_timeout": 60,
    }, [ALICE, BOB])


def tearDownModule():
    if SRV:
        SRV.stop()


def accepted_from(sender):
    return [r for r in base.audit(SRV, "mail.accepted") if r[3]["sender"] == sender]


def session(ip=None):
    r = Raw(SRV, ip=ip or SRV.new_ip())
    r.ehlo()
    return r


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Smuggling(unittest.TestCase):
    # the endings an SMTP smuggler hopes some server takes for CRLF.CRLF
    VARIANTS = {
        "lf-dot-lf": b"\n.\n",
        "cr-dot-cr": b"\r.\r",
        "lf-dot-crlf": b"\n.\r\n",
        "crlf-dot-cr": b"\r\n.\r",
        "crlf-dot-lf": b"\r\n.\n",
        "cr-dot-crlf": b"\r.\r\n",
        "crlf-nul-dot-crlf": b"\r\n\x00.\r\n",
        "crlf-dot-nul-crlf": b"\r\n.\x00\r\n",
        "bare-lf-line": b"\nX\n",
    }

    def smuggle(self, name, ending):
        evil = "smuggler-%s@remote.test" % name
        r = session()
        self.assertEqual(r.cmd("MAIL FROM:<outer-%s@remote.test>" % name)[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<%s>" % ALICE[0])[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        inner = ("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\nSubject: smuggled %s\r\n\r\n"
                 "smuggled\r\n" % (evil, ALICE[0], name)).encode()
        r.send(b"Subject: outer\r\n\r\nouter body" + ending + inner + b"\r\n.\r\n")
        code, t = r.reply()
        # one message, refused as a whole: never split, never ended early
        self.assertEqual((code, t[0][:5]), (554, "5.6.0"), (name, t))
        self.assertEqual(r.silent(0.5), b"", "a second reply: the data was split")
        code, t = r.cmd("RCPT TO:<%s>" % ALICE[0])
        self.assertEqual(code, 503, "the smuggled MAIL was executed")
        r.cmd("QUIT")
        r.close()
        return evil

    def test_variants(self):
        evils = [self.smuggle(n, e) for n, e in self.VARIANTS.items()]
        time.sleep(1.0)
        for name, evil in zip(self.VARIANTS, evils):
            self.assertFalse(accepted_from(evil), name)
            self.assertFalse(accepted_from("outer-%s@remote.test" % name), name)
        refused = [x for x in base.audit(SRV, "mail.refused")
                   if x[3]["sender"].startswith("outer-")]
        self.assertEqual(len(refused), len(self.VARIANTS))

    def test_variants_in_one_write_with_pipelining(self):
        # everything in one write: the server must still see a single DATA
        r = session()
        r.send(("MAIL FROM:<pipe-outer@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n" % ALICE[0])
               .encode())
        self.assertEqual([c for c, _ in r.replies(3)], [250, 250, 354])
        r.send(b"Subject: x\r\n\r\nbody\n.\nMAIL FROM:<pipe-evil@remote.test>\nRCPT TO:<"
               + ALICE[0].encode() + b">\nDATA\n\nevil\n.\n\r\n.\r\nNOOP\r\n")
        got = r.replies(2)
        self.assertEqual([c for c, _ in got], [554, 250], got)
        self.assertEqual(r.silent(0.5), b"")
        r.close()
        time.sleep(0.5)
        self.assertFalse(accepted_from("pipe-evil@remote.test"))

    def test_dots_that_are_content(self):
        r = session()
        r.cmd("MAIL FROM:<dots@remote.test>")
        r.cmd("RCPT TO:<%s>" % ALICE[0])
        r.cmd("DATA")
        # "..\r\n" is a stuffed ".", ".x" loses its dot, "x.\r\n" is text
        r.send(b"Subject: dots\r\n\r\n..\r\n..x\r\nx.\r\n. \r\n.\r\n")
        code, t = r.reply()
        self.assertEqual(code, 250, t)
        r.close()
        rec = base.accepted_record(SRV, base.qid_of(t[0]))
        self.assertTrue(rec)

    def test_bdat_bare_lf_refused(self):
        r = Raw(SRV, "subs", ip=SRV.new_ip())
        r.ehlo()
        self.assertEqual(r.cmd("AUTH PLAIN " + yz.b64e("\0%s\0%s" % BOB[:2]))[0], 235)
        r.cmd("MAIL FROM:<%s>" % BOB[0])
        r.cmd("RCPT TO:<x@remote.test>")
        chunk = b"Subject: b\r\n\r\nline\nMAIL FROM:<bdat-evil@remote.test>\n"
        r.send(b"BDAT %d\r\n" % len(chunk) + chunk)
        self.assertEqual(r.reply()[0], 250)
        r.send(b"BDAT 3 LAST\r\nend")
        code, t = r.reply()
        self.assertEqual((code, t[0][:5]), (554, "5.6.0"), t)
        # a CR at the end of one chunk and LF at the start of the next are one CRLF
        r.cmd("MAIL FROM:<%s>" % BOB[0])
        r.cmd("RCPT TO:<y@remote.test>")
        part = b"Subject: s\r"
        r.send(b"BDAT %d\r\n" % len(part) + part)
        self.assertEqual(r.reply()[0], 250)
        rest = b"\n\r\nok\r\n"
        r.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
        self.assertEqual(r.reply()[0], 250)
        r.close()


class StartTLS(unittest.TestCase):
    def inject(self, kind, injected):
        r = Raw(SRV, kind, ip=SRV.new_ip())
        r.ehlo()
        r.send(b"STARTTLS\r\n" + injected)
        code, t = r.reply()
        self.assertEqual(code, 220, t)
        # the server answers nothing in plaintext after the 220
        self.assertEqual(r.silent(0.5), b"")
        r.sock = base.tls_ctx(SRV).wrap_socket(r.sock, server_hostname="localhost")
        # and nothing inside TLS either: the injected commands were dropped, not executed
        self.assertEqual(r.silent(0.7), b"", "a reply to an injected command")
        return r

    def test_command_pipelined_after_starttls_gets_no_reply(self):
        r = self.inject("mx", b"NOOP\r\n")
        f = r.ehlo()
        self.assertIn("AUTH", f)
        r.close()

    def test_injected_envelope_is_not_executed(self):
        r = self.inject("mx", ("EHLO evil.test\r\nMAIL FROM:<inject@remote.test>\r\n"
                               "RCPT TO:<%s>\r\n" % ALICE[0]).encode())
        # the session restarted: no EHLO, no MAIL
        self.assertEqual(r.cmd("RCPT TO:<%s>" % ALICE[0])[0], 503)
        r.ehlo()
        self.assertEqual(r.cmd("RCPT TO:<%s>" % ALICE[0])[0], 503)
        r.close()

    def test_injected_auth_on_submission(self):
        r = self.inject("sub", ("AUTH PLAIN %s\r\n" % yz.b64e("\0%s\0%s" % BOB[:2])).encode())
        r.ehlo()
        self.assertEqual(r.cmd("MAIL FROM:<%s>" % BOB[0])[0], 530)  # not authenticated
        r.close()

    def test_garbage_instead_of_handshake(self):
        r = Raw(SRV, ip=SRV.new_ip())
        r.ehlo()
        self.assertEqual(r.cmd("STARTTLS")[0], 220)
        r.send(b"this is not a TLS ClientHello\r\n" * 10)
        data, closed = r.read_to_close(5)
        self.assertTrue(closed)
        self.assertNotIn(b"250", data)
        r.close()
        SRV.assert_alive()

    def test_alpn_of_another_protocol_refused(self):
        ctx = base.tls_ctx(SRV)
        ctx.set_alpn_protocols(["http/1.1"])
        with socket.create_connection(("127.0.0.1", base.port(SRV, "subs")), 5) as s:
            with self.assertRaises(ssl.SSLError):
                ctx.wrap_socket(s, server_hostname="localhost")
        ctx = base.tls_ctx(SRV)
        ctx.set_alpn_protocols(["smtp"])
        with socket.create_connection(("127.0.0.1", base.port(SRV, "subs")), 5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                self.assertEqual(t.selected_alpn_protocol(), "smtp")


class NulAndLines(unittest.TestCase):
    def test_nul_in_commands(self):
        r = session()
        for line in (b"NO\x00OP\r\n", b"MAIL FROM:<a@remote.test>\x00\r\n",
                     b"MAIL FROM:<a@remote.test\x00@x>\r\n", b"\x00\r\n"):
            r.send(line)
            code, t = r.reply()
            self.assertEqual((code, t[0][:5]), (500, "5.5.2"), line)
        self.assertEqual(r.cmd("MAIL FROM:<a@remote.test>")[0], 250)
        r.send(("RCPT TO:<%s\x00@remote.test>\r\n" % ALICE[0]).encode())
        self.assertEqual(r.reply()[0], 500)
        self.assertEqual(r.cmd("DATA")[0], 554)  # the NUL recipient was not taken
        r.close()

    def test_nul_in_data(self):
        r = session()
        r.cmd("MAIL FROM:<nul-data@remote.test>")
        r.cmd("RCPT TO:<%s>" % ALICE[0])
        r.cmd("DATA")
        r.send(b"Subject: n\r\n\r\nbefore\x00after\r\n.\r\n")
        code, t = r.reply()
        self.assertEqual((code, t[0][:5]), (554, "5.6.0"), t)
        r.close()

    def test_bare_lf_and_cr_in_commands(self):
        r = session()
        r.send(b"NOOP\nNOOP\r\n")
        self.assertEqual(r.reply()[0], 500)  # "NOOP\n" refused ...
        self.assertEqual(r.reply()[0], 250)  # ... the stream goes on after its LF
        r.send(b"NO\rOP\r\n")
        self.assertEqual(r.reply()[0], 500)
        r.close()

    def test_100kb_lines(self):
        r = session()
        r.send(b"NOOP " + b"A" * 100000 + b"\r\nNOOP\r\n")
        code, t = r.reply()
        self.assertEqual((code, t[0][:5]), (500, "5.5.2"), t)
        self.assertIn("too long", t[0])
        self.assertEqual(r.reply()[0], 250)  # resynchronised at the next CRLF
        # the same in small pieces, and inside a transaction
        r.cmd("MAIL FROM:<long@remote.test>")
        r.send(b"RCPT TO:<")
        for _ in range(100):
            r.send(b"x" * 1000)
        r.send(b"@example.test>\r\n")
        self.assertEqual(r.reply()[0], 500)
        self.assertEqual(r.cmd("RCPT TO:<%s>" % ALICE[0])[0], 250)  # the MAIL is still there
        # a line at exactly the limit (2048) is fine, one byte more is not
        ok = "NOOP " + "b" * (2048 - 5)
        self.assertEqual(r.cmd(ok)[0], 250)
        self.assertEqual(r.cmd(ok + "b")[0], 500)
        r.close()

    def test_long_sasl_line(self):
        r = Raw(SRV, "subs", ip=SRV.new_ip())
        r.ehlo()
        self.assertEqual(r.cmd("AUTH PLAIN")[0], 334)
        r.send(b"QUFB" * 25000 + b"\r\n")
        self.assertEqual(r.reply()[0], 500)
        self.assertEqual(r.cmd("NOOP")[0], 250)  # out of the SASL exchange
        r.close()

    def test_errors_limit(self):
        r = session()
        for i in range(9):
            self.assertEqual(r.cmd("BOGUS %d" % i)[0], 500)
        code, t = r.cmd("BOGUS 9")
        self.assertEqual(code, 500)
        code, t = r.reply()
        self.assertEqual((code, t[0][:5]), (421, "4.7.0"), t)
        self.assertTrue(r.read_to_close(5)[1])
        r.close()

    def test_10000_commands(self):
        r = session()
        n = 10000 - 1  # EHLO was one
        r.send(b"NOOP\r\n" * n)  # without reading: the server must hold back, not grow
        got = 0
        while got < n:
            code, _ = r.reply()
            self.assertEqual(code, 250)
            got += 1
        code, t = r.cmd("NOOP")
        self.assertEqual((code, t[0][:5]), (421, "4.7.0"), t)
        self.assertIn("Too many commands", t[0])
        self.assertTrue(r.read_to_close(5)[1])
        r.close()

    def test_other_protocols(self):
        for req in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"CONNECT a:25 HTTP/1.0\r\n\r\n",
                    b"POST /x HTTP/1.1\r\n\r\n"):
            r = Raw(SRV, ip=SRV.new_ip())
            r.send(req)
            code, t = r.reply()
            self.assertEqual(code, 421, req)
            self.assertTrue(r.read_to_close(5)[1])
            r.close()


class Relay(unittest.TestCase):
    FORMS = [
        "user%remote.test@" + D,             # the %-hack
        "remote.test!user@" + D,             # UUCP bang path
        "user!remote.test@" + D,
        "@" + D + ":user@remote.test",       # source routes
        "@" + D + ",@other.test:user@remote.test",
        '"user@remote.test"@' + D,           # quoted local parts
        '"user%remote.test"@' + D,
        '"user!remote"@' + D,
        '"user@remote.test"',
        "user@remote.test@" + D,             # two @
        "user@[127.0.0.1]",                  # address literals
        "user@[IPv6:::1]",
        "user@localhost",                    # not hosted
        "user@remote.test",
        "user@" + D + ".remote.test",        # our name as a prefix
        "user@remote.test.",                 # trailing dot
        "user\\@remote.test@" + D,          # backslash
        "postmaster@remote.test",
        "alice@" + D + " <evil@remote.test", # two paths
    ]

    def test_forms_refused_without_auth(self):
        r = session()
        self.assertEqual(r.cmd("MAIL FROM:<relay@remote.test>")[0], 250)
        for form in self.FORMS:
            code, t = r.cmd("RCPT TO:<%s>" % form)
            self.assertIn(code, (501, 553, 554), (form, code, t))
            if r.cmd("NOOP")[0] != 250:
                self.fail("session broke after %r" % form)
            if code in (501, 553, 554) and r.silent(0) is None:
                self.fail("closed after %r" % form)
            # stay under max_errors
            if (self.FORMS.index(form) + 1) % 8 == 0:
                r.close()
                r = session()
                r.cmd("MAIL FROM:<relay@remote.test>")
        self.assertEqual(r.cmd("DATA")[0], 554)  # no recipient was accepted
        r.close()
        # malformed paths
        r = session()
        r.cmd("MAIL FROM:<relay@remote.test>")
        for line in ("RCPT TO:evil@remote.test", "RCPT TO:<evil@remote.test",
                     "RCPT TO:<>", "RCPT TO:<evil>"):
            self.assertEqual(r.cmd(line)[0], 501, line)
        r.close()

    def test_utf8_remote_refused(self):
        r = session()
        r.cmd("MAIL FROM:<a@remote.test> SMTPUTF8")
        self.assertEqual(r.cmd("RCPT TO:<用户@远程.测试>")[0], 554)
        r.close()

    def test_forms_refused_even_with_auth(self):
        # submission may relay, but the tricks are still not addresses
        r = Raw(SRV, "subs", ip=SRV.new_ip())
        r.ehlo()
        self.assertEqual(r.cmd("AUTH PLAIN " + yz.b64e("\0%s\0%s" % BOB[:2]))[0], 235)
        r.cmd("MAIL FROM:<%s>" % BOB[0])
        for form in ("user%remote.test@" + D, "remote.test!user@" + D,
                     "@" + D + ":user@remote.test", '"user@remote.test"@' + D):
            self.assertIn(r.cmd("RCPT TO:<%s>" % form)[0], (501, 553), form)
        self.assertEqual(r.cmd("RCPT TO:<fine@remote.test>")[0], 250)
        r.close()

    def test_auth_plain_before_tls_refused(self):
        before = len(base.audit(SRV, "auth.login"))
        for kind in ("mx", "sub"):
            r = Raw(SRV, kind, ip=SRV.new_ip())
            r.ehlo()
            for line in ("AUTH PLAIN " + yz.b64e("\0%s\0%s" % BOB[:2]), "AUTH LOGIN " +
                         yz.b64e(BOB[0])):
                code, t = r.cmd(line)
                self.assertEqual((code, t[0][:6]), (538, "5.7.11"), (kind, line))
            self.assertEqual(r.cmd("MAIL FROM:<%s>" % BOB[0])[0], 530 if kind == "sub"
                             else 250)
            r.close()
        time.sleep(0.3)
        # the password was never looked at
        self.assertEqual(len(base.audit(SRV, "auth.login")), before)


class Memory(unittest.TestCase):
    def stream(self, start, chunk, total):
        r = session()
        r.cmd("MAIL FROM:<stream@remote.test>")
        r.cmd("RCPT TO:<%s>" % ALICE[0])
        start(r)
        pid = SRV.pid
        base_rss = rss_kb(pid)
        peak = base_rss
        sent = 0
        while sent < total:
            r.sock.sendall(chunk)
            sent += len(chunk)
            if sent % (8 * len(chunk)) == 0:
                peak = max(peak, rss_kb(pid))
        return r, base_rss, peak

    def test_huge_data_bounded(self):
        line = b"z" * 1022 + b"\r\n"
        chunk = line * 256  # 256 KiB
        total = 160 * 1024 * 1024

        def start(r):
            self.assertEqual(r.cmd("DATA")[0], 354)
            r.send(b"Subject: huge\r\n\r\n")
        r, base_rss, peak = self.stream(start, chunk, total)
        r.send(b".\r\n")
        code, t = r.reply()
        self.assertEqual((code, t[0][:5]), (552, "5.3.4"), t)
        grown = (peak - base_rss) / 1024.0
        # the cap is max_message (5 MiB) plus one read buffer; ASan's allocator adds slack
        self.assertLess(grown, 48, "RSS grew by %.1f MiB while 160 MiB streamed" % grown)
        print("\n    160 MiB DATA: RSS +%.1f MiB" % grown, end=" ")
        self.assertEqual(r.cmd("NOOP")[0], 250)
        r.close()

    def test_huge_bdat_bounded(self):
        chunk = b"q" * (256 * 1024)
        total = 96 * 1024 * 1024

        def start(r):
            r.send(b"BDAT %d LAST\r\n" % total)
        r, base_rss, peak = self.stream(start, chunk, total)
        code, t = r.reply()
        self.assertEqual((code, t[0][:5]), (552, "5.3.4"), t)
        grown = (peak - base_rss) / 1024.0
        self.assertLess(grown, 48, "RSS grew by %.1f MiB during a 96 MiB BDAT" % grown)
        print("\n    96 MiB BDAT: RSS +%.1f MiB" % grown, end=" ")
        r.close()

    def test_many_sessions_bounded(self):
        pid = SRV.pid
        before = rss_kb(pid)
        conns = []
        for i in range(60):
            r = Raw(SRV, ip="127.0.%d.%d" % (200 + i // 200, i % 200 + 2))
            r.ehlo()
            r.cmd("MAIL FROM:<many%d@remote.test>" % i)
            conns.append(r)
        grown = (rss_kb(pid) - before) / 1024.0
        for r in conns:
            r.close()
        self.assertLess(grown, 32, "60 idle sessions cost %.1f MiB" % grown)
        SRV.assert_alive()


if __name__ == "__main__":
    yz.main()
