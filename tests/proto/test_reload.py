#!/usr/bin/env python3
"""SIGHUP reloads yizhan.conf, templates and the TLS certificate without dropping the listener;
a broken config is refused and the running one kept; sessions survive a reload."""

import os
import pwd
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import unittest

import yzharness as yz

USER = ("mei@example.test", "mei-password-1", "user", "韩梅梅")


def peer_cert(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return t.getpeercert(binary_form=True)


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


class Reload(unittest.TestCase):
    def setUp(self):
        self.srv = yz.Server(users=[USER], name="test_reload")
        self.srv.start()

    def tearDown(self):
        self.srv.stop()

    def conf_append(self, text):
        with open(os.path.join(self.srv.data, "yizhan.conf"), "a", encoding="utf-8") as f:
            f.write(text)

    def hup(self):
        self.srv.proc.send_signal(signal.SIGHUP)

    def test_brand_and_session_survive_reload(self):
        s = yz.login(self.srv, USER[0], USER[1], source_ip=self.srv.new_ip())
        r = self.srv.req("GET", "/brand.css?d=example.test")
        self.assertIn(b"#1f6feb", r.body)
        self.conf_append("\n[brand.example.test]\nname = 测试单位邮件系统\ncolor = #c8102e\n")
        self.hup()
        self.assertTrue(wait_for(lambda: b"#c8102e" in self.srv.req(
            "GET", "/brand.css?d=example.test").body), "brand colour not reloaded")
        page = self.srv.req("GET", "/login?d=example.test").body.decode()
        self.assertIn("测试单位邮件系统", page)
        # the session made before the reload still works
        self.assertEqual(s.get("/api/v1/me").status, 200)
        self.srv.assert_alive(self)

    def test_smtp_limits_reload(self):
        """[smtp] limits apply after SIGHUP: to new sessions, and to a session already open
        from its next command; the port stays."""
        port = self.srv.base + 25
        old = smtplib.SMTP("127.0.0.1", port, timeout=10)
        try:
            old.ehlo("before.test")
            self.assertEqual(int(old.esmtp_features["size"]), 50 << 20)
            self.conf_append("\n[smtp]\nmax_message = 2000000\n")
            self.hup()

            def new_size():
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                    c.ehlo("after.test")
                    return int(c.esmtp_features["size"])
            self.assertTrue(wait_for(lambda: new_size() == 2000000), "SIZE not reloaded")
            # the session opened before the reload: its next EHLO says the new size, and
            # its next transaction is held to it
            old.ehlo("before.test")
            self.assertEqual(int(old.esmtp_features["size"]), 2000000)
            self.assertEqual(old.mail("a@remote.test", ["SIZE=3000000"])[0], 552)
            self.assertEqual(old.mail("a@remote.test", ["SIZE=1000000"])[0], 250)
            old.rset()
        finally:
            old.close()
        with open(self.srv.log_path, encoding="utf-8", errors="replace") as f:
            self.assertIn('msg="limits reloaded"', f.read())
        self.srv.assert_alive(self)

    def test_imap_and_pop3_limits_reload(self):
        """[imap] and [pop3] line limits apply after SIGHUP: a 2,000-byte command line that
        was fine is then too long."""
        def reply(port, line):
            """The first line the server answers a 2,000-byte command with."""
            with socket.create_connection(("127.0.0.1", self.srv.base + port), timeout=10) as c:
                f = c.makefile("rb")
                f.readline()  # greeting
                c.sendall(line + b"x" * 2000 + b"\r\n")
                return f.readline()

        def imap_reply():
            return reply(143, b"a1 NOOP ")

        def pop3_reply():
            return reply(110, b"NOOP ")

        self.assertNotIn(b"too long", imap_reply().lower())
        self.assertNotIn(b"too long", pop3_reply().lower())
        self.conf_append("\n[imap]\nmax_line = 1024\n\n[pop3]\nmax_line = 1000\n")
        self.hup()
        self.assertTrue(wait_for(lambda: b"too long" in imap_reply().lower()),
                        "IMAP max_line not reloaded")
        self.assertTrue(wait_for(lambda: b"too long" in pop3_reply().lower()),
                        "POP3 max_line not reloaded")
        self.srv.assert_alive(self)

    def test_requests_during_reloads_all_succeed(self):
        results, stop = [], threading.Event()

        def hammer():
            while not stop.is_set() and len(results) < 2000:
                try:
                    results.append(self.srv.req("GET", "/healthz", timeout=10).status)
                except Exception as e:  # noqa: BLE001 - any failure is the finding
                    results.append(repr(e))

        t = threading.Thread(target=hammer)
        t.start()
        for _ in range(4):
            time.sleep(0.3)
            self.hup()
        time.sleep(0.5)
        stop.set()
        t.join(30)
        self.assertGreater(len(results), 20)
        self.assertEqual([r for r in results if r != 200], [])

    def test_broken_config_is_refused_and_old_one_kept(self):
        self.conf_append("\n[brand.example.test]\ncolor = #00aa00\n")
        self.hup()
        self.assertTrue(wait_for(lambda: b"#00aa00" in self.srv.req(
            "GET", "/brand.css?d=example.test").body))
        self.conf_append("\n[http]\nthreads = lots\n")
        self.hup()
        time.sleep(1.0)
        self.srv.assert_alive(self)
        self.assertIn(b"#00aa00", self.srv.req("GET", "/brand.css?d=example.test").body)
        self.assertEqual(self.srv.req("GET", "/healthz").status, 200)
        with open(self.srv.log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        self.assertIn("reload refused", log)
        self.assertIn("http.threads", log)

    def test_new_certificate_is_served_after_reload(self):
        before = peer_cert(self.srv.port)
        # the implicit-TLS mail ports: submissions, IMAPS, POP3S
        mail_ports = [self.srv.base + p for p in (465, 993, 995)]
        for p in mail_ports:
            self.assertEqual(peer_cert(p), before, p)
        tls = os.path.join(self.srv.data, "tls")
        key, cert = os.path.join(tls, "new-key.pem"), os.path.join(tls, "new-cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        if os.geteuid() == 0:  # the daemon runs as the service user: let it read the new files
            pw = pwd.getpwnam("yizhan")
            for p in (key, cert):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        os.replace(key, os.path.join(tls, "key.pem"))
        os.replace(cert, os.path.join(tls, "cert.pem"))
        self.hup()
        self.assertTrue(wait_for(lambda: peer_cert(self.srv.port) != before),
                        "the old certificate is still served")
        after = peer_cert(self.srv.port)
        with open(os.path.join(tls, "cert.pem")) as f:
            want = ssl.PEM_cert_to_DER_cert(f.read())
        self.assertEqual(after, want)
        # the mail listeners take it too, from their next connection
        for p in mail_ports:
            self.assertTrue(wait_for(lambda: peer_cert(p) == want), "port %d: old certificate" % p)
        # the harness's client must trust the new certificate from now on
        self.srv._ctx = yz.tls_context(os.path.join(tls, "cert.pem"))
        self.assertEqual(self.srv.req("GET", "/healthz").status, 200)
        self.srv.assert_alive(self)


if __name__ == "__main__":
    yz.main()
