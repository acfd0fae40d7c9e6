#!/usr/bin/env python3
"""Web sign-in over HTTP SCRAM-SHA-256 (docs/API.md "Sign-in").

Each test signs in from its own loopback address (127.0.0.N) so the per-IP throttle (60
sign-in requests a minute) of one test cannot bleed into another; the per-IP throttle
itself is tested against a server of its own.
"""

import secrets
import statistics
import time
import unittest

import yzharness as yz

D = yz.DOMAIN
PW = "correct horse 1"
ALICE = ("alice@" + D, "alice-password-1", "user", "Alice Wang")
USERS = [ALICE,
         ("bob@" + D, "bob-password-1", "user", "Bob"),
         ("carol@" + D, PW, "user", "Carol"),
         ("dave@" + D, PW, "user", "Dave"),
         ("erin@" + D, PW, "user", "Erin"),
         ("frank@" + D, PW, "user", "Frank")]
USERS += [("w%d@%s" % (i, D), PW, "user", "W%d" % i) for i in range(5)]
USERS += [("mal%d@%s" % (i, D), PW, "user", "Mal%d" % i) for i in range(10)]

SRV = None


def setUpModule():
    global SRV
    SRV = yz.Server(users=USERS, name="test_login")
    SRV.start()


def tearDownModule():
    if SRV:
        SRV.stop()


def ghost():
    return "ghost-%s@%s" % (secrets.token_hex(4), D)


def attempt(srv, address, password, ip):
    """One full sign-in try. -> ('ok', Session) or (step, Resp) of the step that refused."""
    try:
        return "ok", yz.login(srv, address, password, source_ip=ip)
    except yz.LoginFailed as e:
        return e.step, e.resp


class SignIn(unittest.TestCase):
    def test_success(self):
        ip = SRV.new_ip()
        s1 = yz.step1(SRV, ALICE[0], source_ip=ip)
        r = s1.resp
        yz.assert_error(self, r, 401, "auth_continue", "step 1")
        yz.assert_security_headers(self, r, "step 1")
        self.assertTrue(s1.sid, "no sid in %r" % r.headers.get("www-authenticate"))
        a = s1.attrs
        self.assertTrue(a["r"].startswith(s1.cnonce) and len(a["r"]) > len(s1.cnonce))
        self.assertGreaterEqual(len(yz.b64d(a["s"])), 16, "salt shorter than 128 bits")
        self.assertGreaterEqual(int(a["i"]), 4096, "RFC 7677: at least 4096 iterations")

        fin = yz.client_final(ALICE[1], s1.client_first_bare, s1.server_first, s1.cnonce)
        r2 = yz.step2(SRV, s1.sid, fin.message, source_ip=ip)
        self.assertEqual(r2.status, 200, r2)
        yz.verify_server_final(r2, fin.server_signature, s1.sid)
        yz.assert_security_headers(self, r2, "step 2")
        self.assertIn("no-store", r2.headers.get("cache-control", ""))
        body = r2.json()
        self.assertEqual(body["next"], "done")
        self.assertIsInstance(body["csrf_token"], str)
        self.assertGreaterEqual(len(body["csrf_token"]), 16)
        self.assertEqual(body["account"]["address"], ALICE[0])
        self.assertEqual(body["account"]["role"], "user")

        value, attrs = yz.find_cookie(r2)
        self.assertTrue(value, "no %s cookie: %r" % (yz.COOKIE_NAME, r2.headers))
        self.assertGreaterEqual(len(value), 43, "session id shorter than 256 bits of base64")
        self.assertIs(attrs.get("secure"), True, attrs)
        self.assertIs(attrs.get("httponly"), True, attrs)
        self.assertEqual(str(attrs.get("samesite", "")).lower(), "strict", attrs)
        self.assertEqual(attrs.get("path"), "/", attrs)
        self.assertNotIn("domain", attrs)
        self.assertNotIn(value, r2.body.decode(), "session id echoed in the body")

        r3 = SRV.req("GET", "/api/v1/me", cookie=value, source_ip=ip)
        self.assertEqual(r3.status, 200, r3)
        me = r3.json()
        for k in ("address", "name", "role", "language", "domain", "totp_enabled",
                  "session_complete"):
            self.assertIn(k, me)
        self.assertEqual(me["address"], ALICE[0])
        self.assertEqual(me["name"], ALICE[3])
        self.assertEqual(me["role"], "user")
        self.assertEqual(me["domain"], D)
        self.assertIs(me["session_complete"], True)
        self.assertIs(me["totp_enabled"], False)

    def test_address_case_insensitive_domain(self):
        """The domain part of an address is case-insensitive (RFC 5321 section 2.4)."""
        s = yz.login(SRV, "alice@EXAMPLE.TEST", ALICE[1], source_ip=SRV.new_ip())
        self.assertEqual(s.me()["address"], ALICE[0])

    def test_signin_rotates(self):
        ip = SRV.new_ip()
        a = yz.login(SRV, ALICE[0], ALICE[1], source_ip=ip)
        b = yz.login(SRV, ALICE[0], ALICE[1], source_ip=ip)
        self.assertNotEqual(a.cookie, b.cookie)
        self.assertNotEqual(a.csrf, b.csrf)
        # Signing in while presenting a session cookie still gives a fresh id (no fixation).
        c = yz.login(SRV, ALICE[0], ALICE[1], source_ip=ip, cookie=b.cookie)
        self.assertNotEqual(c.cookie, b.cookie)
        self.assertEqual(c.me()["address"], ALICE[0])
        # A made-up cookie presented at sign-in is not adopted either.
        made_up = secrets.token_urlsafe(32)
        d = yz.login(SRV, ALICE[0], ALICE[1], source_ip=ip, cookie=made_up)
        self.assertNotEqual(d.cookie, made_up)
        r = SRV.req("GET", "/api/v1/me", cookie=made_up, source_ip=ip)
        yz.assert_error(self, r, 401, "unauthorized", "made-up cookie")

    def test_signout(self):
        s = yz.login(SRV, ALICE[0], ALICE[1], source_ip=SRV.new_ip())
        self.assertEqual(s.get("/api/v1/me").status, 200)
        r = s.logout()
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        value, attrs = yz.find_cookie(r)
        self.assertIsNotNone(attrs, "sign-out does not clear the cookie")
        cleared = value == "" or attrs.get("max-age") == "0" or "expires" in attrs
        self.assertTrue(cleared, "sign-out cookie not cleared: %r" % r.headers["set-cookie"])
        yz.assert_error(self, s.get("/api/v1/me"), 401, "unauthorized", "after sign-out")
        yz.assert_error(self, s.logout(), 401, "unauthorized", "second sign-out")

    def test_passwd_change(self):
        addr = USERS[1][0]
        new = "bob-new-password-2"
        ip = SRV.new_ip()
        cp = SRV.cli("user", "passwd", "--data", SRV.data, addr, "--password-stdin",
                     input=new + "\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        step, r = attempt(SRV, addr, USERS[1][1], ip)
        self.assertNotEqual(step, "ok", "old password still works")
        yz.assert_error(self, r, 401, "auth_failed", "old password")
        s = yz.login(SRV, addr, new, source_ip=ip)
        self.assertEqual(s.me()["address"], addr)


class Failures(unittest.TestCase):
    def test_wrong_password_and_unknown_address_look_the_same(self):
        ip = SRV.new_ip()
        known, unknown = [], []
        for i in range(5):
            for addr, out in (("w%d@%s" % (i, D), known), (ghost(), unknown)):
                s1 = yz.step1(SRV, addr, source_ip=ip)
                yz.assert_error(self, s1.resp, 401, "auth_continue", "step 1 " + addr)
                fin = yz.client_final("wrong-password-%d" % i, s1.client_first_bare,
                                      s1.server_first, s1.cnonce)
                r2 = yz.step2(SRV, s1.sid, fin.message, source_ip=ip)
                yz.assert_error(self, r2, 401, "auth_failed", "step 2 " + addr)
                out.append((s1, r2))
        bodies = {r2.body for _s1, r2 in known + unknown}
        self.assertEqual(len(bodies), 1, "auth_failed bodies differ: %r" % bodies)
        bodies1 = {s1.resp.body for s1, _r2 in known + unknown}
        self.assertEqual(len(bodies1), 1, "auth_continue bodies differ: %r" % bodies1)

        def shape(resp):
            return sorted(k for k in resp.headers if k not in ("date", "content-length"))
        for i in range(5):
            self.assertEqual(shape(known[i][1]), shape(unknown[i][1]), "step-2 header names")
            self.assertEqual(shape(known[i][0].resp), shape(unknown[i][0].resp),
                             "step-1 header names")
            ka, ua = known[i][0].attrs, unknown[i][0].attrs
            self.assertEqual(ka["i"], ua["i"], "iteration count gives unknown addresses away")
            self.assertEqual(len(yz.b64d(ka["s"])), len(yz.b64d(ua["s"])), "salt length")
            self.assertEqual(len(ka["r"]), len(ua["r"]), "nonce length")
            self.assertEqual(len(known[i][0].sid), len(unknown[i][0].sid), "sid length")

        for step in (0, 1):
            def med(rows):
                return statistics.median((r[step].resp if step == 0 else r[step]).elapsed
                                         for r in rows)
            mk, mu = med(known), med(unknown)
            slack = 0.15 + 0.5 * max(mk, mu)
            self.assertLess(abs(mk - mu), slack,
                            "step %d median %.3fs (wrong password) vs %.3fs (unknown address)"
                            % (step + 1, mk, mu))

    def test_unknown_address_salt_is_stable(self):
        ip = SRV.new_ip()
        g = ghost()
        a = yz.step1(SRV, g, source_ip=ip)
        b = yz.step1(SRV, g, source_ip=ip)
        for s in (a, b):
            yz.assert_error(self, s.resp, 401, "auth_continue", "unknown step 1")
            self.assertTrue(s.sid)
            self.assertTrue(s.attrs["r"].startswith(s.cnonce))
            self.assertGreater(len(s.attrs["r"]), len(s.cnonce))
            self.assertGreaterEqual(len(yz.b64d(s.attrs["s"])), 16)
            int(s.attrs["i"])
        self.assertEqual(a.attrs["s"], b.attrs["s"], "fake salt not stable")
        self.assertEqual(a.attrs["i"], b.attrs["i"])
        self.assertNotEqual(a.attrs["r"], b.attrs["r"], "server nonce reused")
        self.assertNotEqual(a.sid, b.sid, "sid reused")
        # Two unknown addresses sharing one salt would give both away.
        c = yz.step1(SRV, ghost(), source_ip=ip)
        self.assertNotEqual(a.attrs["s"], c.attrs["s"], "all unknown addresses share a salt")
        # A known address's salt is stable too.
        k1 = yz.step1(SRV, ALICE[0], source_ip=ip)
        k2 = yz.step1(SRV, ALICE[0], source_ip=ip)
        self.assertEqual(k1.attrs["s"], k2.attrs["s"])
        # An address in a domain the server does not host looks the same.
        x = yz.step1(SRV, "someone@elsewhere.test", source_ip=ip)
        yz.assert_error(self, x.resp, 401, "auth_continue", "foreign domain step 1")
        self.assertEqual(x.attrs["i"], k1.attrs["i"])

    def test_tampered_proof(self):
        ip = SRV.new_ip()
        addr = "carol@" + D
        s1 = yz.step1(SRV, addr, source_ip=ip)
        fin = yz.client_final(PW, s1.client_first_bare, s1.server_first, s1.cnonce)
        proof = bytearray(fin.proof)
        proof[7] ^= 0x01
        bad = fin.without_proof + ",p=" + yz.b64e(bytes(proof))
        r = yz.step2(SRV, s1.sid, bad, source_ip=ip)
        yz.assert_error(self, r, 401, "auth_failed", "tampered proof")
        self.assertIsNone(yz.find_cookie(r)[0], "cookie set on failure")
        self.assertNotIn("authentication-info", r.headers)
        # The sid was spent by the failed try: the right proof on it must not work now.
        r = yz.step2(SRV, s1.sid, fin.message, source_ip=ip)
        self.assertIn(r.status, (400, 401), "sid reusable after a failed proof: %r" % (r,))
        self.assertIsNone(yz.find_cookie(r)[0])

    def test_reused_sid(self):
        ip = SRV.new_ip()
        addr = "frank@" + D
        s1 = yz.step1(SRV, addr, source_ip=ip)
        fin = yz.client_final(PW, s1.client_first_bare, s1.server_first, s1.cnonce)
        r = yz.step2(SRV, s1.sid, fin.message, source_ip=ip)
        self.assertEqual(r.status, 200, r)
        r = yz.step2(SRV, s1.sid, fin.message, source_ip=ip)
        self.assertIn(r.status, (400, 401), "sid used twice: %r" % (r,))
        self.assertIsNone(yz.find_cookie(r)[0], "second use of a sid gave a cookie")

    def test_proof_for_other_sid(self):
        """A proof is bound to its exchange: replaying it under another sid fails."""
        ip = SRV.new_ip()
        addr = "mal9@" + D
        a = yz.step1(SRV, addr, source_ip=ip)
        fa = yz.client_final(PW, a.client_first_bare, a.server_first, a.cnonce)
        b = yz.step1(SRV, addr, source_ip=ip)
        r = yz.step2(SRV, b.sid, fa.message, source_ip=ip)
        self.assertIn(r.status, (400, 401), r)
        self.assertIsNone(yz.find_cookie(r)[0])

    def test_lockout_same_for_known_and_unknown(self):
        ip_k, ip_u = SRV.new_ip(), SRV.new_ip()

        def run(addr, ip, right_password):
            seq = []
            for n in range(8):
                # Three wrong passwords, then the right one: during the wait even the right
                # password must be refused, or the wait is a password oracle.
                pw = right_password if n >= 3 else "wrong-%d" % n
                step, r = attempt(SRV, addr, pw, ip)
                if step == "ok":
                    seq.append(("ok", 200, None, None))
                    break
                seq.append((step, r.status, r.error_code(), r.headers.get("retry-after")))
                if r.status == 429:
                    yz.assert_error(self, r, 429, "rate_limited", "lockout " + addr)
                    yz.assert_security_headers(self, r, "429")
                    break
            return seq

        dave = "dave@" + D
        k = run(dave, ip_k, PW)
        u = run(ghost(), ip_u, PW)
        self.assertEqual([x[1] for x in k[:3]], [401, 401, 401], k)
        self.assertEqual(k[-1][1], 429, "no 429 after repeated failures: %r" % k)
        self.assertLessEqual(len(k), 5, "429 came late: %r" % k)
        ra = k[-1][3]
        self.assertIsNotNone(ra, "429 without Retry-After")
        self.assertTrue(ra.isdigit() and 1 <= int(ra) <= 900, "Retry-After %r" % ra)
        self.assertEqual([x[:3] for x in k], [x[:3] for x in u],
                         "known %r vs unknown %r" % (k, u))
        self.assertEqual(k[-1][3], u[-1][3], "Retry-After differs")

        # After the wait, the right password works.
        for _ in range(4):
            time.sleep(int(ra) + 0.3)
            step, r = attempt(SRV, dave, PW, ip_k)
            if step == "ok":
                break
            self.assertEqual(r.status, 429, r)
            ra = r.headers.get("retry-after", "1")
            self.assertLessEqual(int(ra), 8, "wait keeps growing without failures")
        self.assertEqual(step, "ok", "right password refused after the wait: %r" % (r,))

    def test_disabled_account(self):
        ip = SRV.new_ip()
        addr = "erin@" + D
        before = yz.login(SRV, addr, PW, source_ip=ip)
        cp = SRV.cli("user", "disable", "--data", SRV.data, addr)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        try:
            step, r = attempt(SRV, addr, PW, ip)
            self.assertNotEqual(step, "ok", "a disabled account signed in")
            self.assertIn(r.status, (401, 403), r)
            self.assertIsNone(yz.find_cookie(r)[0])
            # Disabling ends the sessions the account already has.
            r = before.get("/api/v1/me")
            yz.assert_error(self, r, 401, "unauthorized", "old session of disabled account")
        finally:
            cp = SRV.cli("user", "enable", "--data", SRV.data, addr)
            self.assertEqual(cp.returncode, 0, cp.stderr)
        s = yz.login(SRV, addr, PW, source_ip=ip)
        self.assertEqual(s.me()["address"], addr)


def _ok_malformed(tc, r, what, allow_continue=False, allow_big=False):
    """400 or 401 with a JSON error; never 2xx or 5xx."""
    allowed = (400, 401, 413, 431) if allow_big else (400, 401)
    tc.assertIn(r.status, allowed, "%s: %r" % (what, r))
    codes = {"bad_request", "auth_failed", "unauthorized"}
    if allow_continue:
        codes.add("auth_continue")
    if r.status in (400, 401):
        yz.assert_error(tc, r, r.status, r.error_code(), what)
        tc.assertIn(r.error_code(), codes, "%s: %r" % (what, r))
    tc.assertIsNone(yz.find_cookie(r)[0], "%s: cookie set" % what)


class Malformed(unittest.TestCase):
    def test_step1_headers(self):
        ip = SRV.new_ip()
        g = "ghost@" + D
        b64 = yz.b64e
        cases = [
            ("no header", None),
            ("scheme only", "SCRAM-SHA-256"),
            ("empty data", "SCRAM-SHA-256 data="),
            ("not base64", "SCRAM-SHA-256 data=!!!notbase64!!!"),
            ("garbage", "SCRAM-SHA-256 data=" + b64("garbage")),
            ("missing n=", "SCRAM-SHA-256 data=" + b64("n,,r=abcdef")),
            ("missing r=", "SCRAM-SHA-256 data=" + b64("n,," + "n=" + g)),
            ("empty nonce", "SCRAM-SHA-256 data=" + b64("n,,n=%s,r=" % g)),
            ("bad gs2 flag", "SCRAM-SHA-256 data=" + b64("x,,n=%s,r=abcdef" % g)),
            ("channel binding", "SCRAM-SHA-256 data=" + b64("p=tls-unique,,n=%s,r=abcdef" % g)),
            ("bad escape", "SCRAM-SHA-256 data=" + b64("n,,n=gh=ZZost@%s,r=abcdef" % D)),
            ("comma in nonce", "SCRAM-SHA-256 data=" + b64("n,,n=%s,r=ab,cd" % g)),
            ("NUL in nonce", "SCRAM-SHA-256 data=" + b64("n,,n=%s,r=ab\x00cd" % g)),
            ("client-final first", "SCRAM-SHA-256 data=" + b64("c=biws,r=abc,p=AAAA")),
            ("SCRAM-SHA-1", "SCRAM-SHA-1 data=" + b64("n,,n=%s,r=abcdef" % g)),
            ("Basic", "Basic " + b64(g + ":password")),
            ("Bearer", "Bearer abc.def.ghi"),
            ("unknown sid", "SCRAM-SHA-256 sid=nonexistent, data=" +
             b64("c=biws,r=abc,p=" + b64(b"\0" * 32))),
            ("empty sid", "SCRAM-SHA-256 sid=, data="),
            ("sid only", "SCRAM-SHA-256 sid=abc"),
            ("NUL bytes", "SCRAM-SHA-256 data=\x00\x00"),
            ("unclosed quote", 'SCRAM-SHA-256 data="abc'),
        ]
        for what, h in cases:
            with self.subTest(case=what):
                r = yz.auth_post(SRV, h, source_ip=ip)
                _ok_malformed(self, r, what)
        SRV.assert_alive()

    def test_address_not_utf8(self):
        """RFC 5802 wants UTF-8 names. The server may refuse at once, or treat the name as an
        unknown address; then step 2 must fail cleanly."""
        ip = SRV.new_ip()
        for name in (b"\xff\xfe@" + D.encode(), b"\xc3@" + D.encode(), b"a\xed\xa0\x80@" +
                     D.encode()):
            with self.subTest(name=name):
                cnonce = yz.new_cnonce()
                bare = b"n=" + name + b",r=" + cnonce.encode()
                r = yz.auth_post(SRV, yz.scram_header(b"n,," + bare), source_ip=ip)
                _ok_malformed(self, r, "non-UTF-8 address", allow_continue=True)
                if r.error_code() != "auth_continue":
                    continue
                p = yz.parse_auth_params(r.headers["www-authenticate"])
                sf = yz.b64d(p["data"]).decode()
                fin = yz.client_final(PW, bare.decode("latin-1"), sf, cnonce)
                r2 = yz.step2(SRV, p["sid"], fin.message, source_ip=ip)
                yz.assert_error(self, r2, 401, "auth_failed", "step 2 for a non-UTF-8 address")
        SRV.assert_alive()

    def test_big_values(self):
        ip = SRV.new_ip()
        b64 = yz.b64e
        cases = [
            ("long address", "SCRAM-SHA-256 data=" +
             b64("n,,n=%s@%s,r=abcdef" % ("a" * 6000, D))),
            ("long nonce", "SCRAM-SHA-256 data=" + b64("n,,n=ghost@%s,r=%s" % (D, "x" * 6000))),
            ("long sid", "SCRAM-SHA-256 sid=%s, data=%s" % ("x" * 8000,
                                                            b64("c=biws,r=a,p=AAAA"))),
            ("many params", "SCRAM-SHA-256 " + ", ".join("k%d=v" % i for i in range(1000))),
        ]
        for what, h in cases:
            with self.subTest(case=what):
                r = yz.auth_post(SRV, h, source_ip=ip)
                _ok_malformed(self, r, what, allow_continue=True)
        # Beyond any sane header size the HTTP layer may answer 413/431 or just close.
        for what, h in (("64 KiB data", "SCRAM-SHA-256 data=" + "A" * 65536),
                        ("1 MiB data", "SCRAM-SHA-256 data=" + "A" * (1 << 20))):
            with self.subTest(case=what):
                try:
                    r = yz.auth_post(SRV, h, source_ip=ip)
                except (OSError, yz.http.client.HTTPException):
                    continue
                _ok_malformed(self, r, what, allow_big=True)
        SRV.assert_alive()

    def test_step2_messages(self):
        ip = SRV.new_ip()
        cases = [
            ("missing p", lambda f, n: "c=biws,r=" + n),
            ("wrong c", lambda f, n: f.message.replace("c=biws", "c=" + yz.b64e("y,,"))),
            ("c not base64", lambda f, n: f.message.replace("c=biws", "c=!!")),
            ("nonce mismatch", lambda f, n: f.message.replace(",r=" + n, ",r=" + n + "x")),
            ("client nonce only", lambda f, n: "c=biws,r=abc,p=" + yz.b64e(f.proof)),
            ("p not base64", lambda f, n: f.without_proof + ",p=!!!"),
            ("short proof", lambda f, n: f.without_proof + ",p=" + yz.b64e(b"short")),
            ("long proof", lambda f, n: f.without_proof + ",p=" + yz.b64e(b"x" * 6000)),
            ("garbage", lambda f, n: "zzz"),
            ("empty", lambda f, n: ""),
        ]
        for i, (what, make) in enumerate(cases):
            with self.subTest(case=what):
                addr = "mal%d@%s" % (i, D)
                s1 = yz.step1(SRV, addr, source_ip=ip)
                yz.assert_error(self, s1.resp, 401, "auth_continue", "step 1 " + addr)
                fin = yz.client_final(PW, s1.client_first_bare, s1.server_first, s1.cnonce)
                msg = make(fin, s1.attrs["r"])
                r = yz.auth_post(SRV, yz.scram_header(msg, sid=s1.sid), source_ip=ip)
                _ok_malformed(self, r, what)
        r = yz.auth_post(SRV, "SCRAM-SHA-256 sid=%s, data=%s" % (s1.sid, "!!!"), source_ip=ip)
        _ok_malformed(self, r, "data not base64")
        SRV.assert_alive()


class Concurrency(unittest.TestCase):
    def test_parallel_signins(self):
        """16 clients sign in at once (each from its own address): every one gets its own
        working session."""
        import concurrent.futures
        ips = [SRV.new_ip() for _ in range(16)]

        def one(ip):
            s = yz.login(SRV, ALICE[0], ALICE[1], source_ip=ip)
            me = s.me()
            return s.cookie, s.csrf, me["address"]
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            res = list(ex.map(one, ips))
        self.assertEqual({r[2] for r in res}, {ALICE[0]})
        self.assertEqual(len({r[0] for r in res}), 16, "session ids repeat")
        self.assertEqual(len({r[1] for r in res}), 16, "CSRF tokens repeat")
        SRV.assert_alive()


class Vector(unittest.TestCase):
    """The client's SCRAM arithmetic, against RFC 7677 section 3 (no server needed)."""

    def test_rfc7677(self):
        _, bare, _ = yz.client_first("user", "rOprNGfwEbeRWgbNEkqO")
        fin = yz.client_final("pencil", bare, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)"
                              "hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                              "rOprNGfwEbeRWgbNEkqO")
        self.assertEqual(yz.b64e(fin.proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        self.assertEqual(yz.b64e(fin.server_signature),
                         "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


class IPThrottle(unittest.TestCase):
    """60 sign-in requests a minute per client IP; a fresh server so nothing else counts."""

    @classmethod
    def setUpClass(cls):
        cls.srv = yz.Server(users=[ALICE], name="test_login/ip-throttle")
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    @unittest.skipUnless(yz.loopback_aliases_work(), "needs 127.0.0.N source addresses")
    def test_per_ip_limit(self):
        srv = self.srv
        ip = srv.new_ip()
        first429 = None
        for n in range(1, 131):
            r = yz.step1(srv, ghost(), source_ip=ip).resp
            if r.status == 429:
                first429 = n
                break
            self.assertEqual(r.status, 401, "request %d: %r" % (n, r))
        self.assertIsNotNone(first429, "130 sign-in requests from one IP, no 429")
        self.assertGreaterEqual(first429, 61, "throttled before 60 requests")
        self.assertLessEqual(first429, 121)
        yz.assert_error(self, r, 429, "rate_limited", "per-IP throttle")
        ra = r.headers.get("retry-after", "")
        self.assertTrue(ra.isdigit() and 1 <= int(ra) <= 60, "Retry-After %r" % ra)
        # Even the right password is refused from that IP now.
        step, r = attempt(srv, ALICE[0], ALICE[1], ip)
        self.assertNotEqual(step, "ok")
        self.assertEqual(r.status, 429, r)
        # Another client IP is not affected.
        s = yz.login(srv, ALICE[0], ALICE[1], source_ip=srv.new_ip())
        self.assertEqual(s.me()["address"], ALICE[0])
        srv.assert_alive()


if __name__ == "__main__":
    yz.main()
