#!/usr/bin/env python3
"""TOTP second factor: mandatory enrolment for admin roles, sign-in with a code, replay
refusal (docs/API.md "Sign-in", step 3; RFC 6238).

The sysadmin flow waits for the next 30-second TOTP step once, so that the code used at
sign-in is not the one used to confirm enrolment: this module takes up to ~35 s.
"""

import base64
import json
import time
import unittest
import urllib.parse

import yzharness as yz

D = yz.DOMAIN
SA = ("sa@" + D, "sa-password-123", "sysadmin", "Sys Admin")
SEC = ("sec@" + D, "sec-password-123", "secadmin", "Sec Admin")
AUD = ("aud@" + D, "aud-password-123", "auditor", "Auditor")
USR = ("usr@" + D, "usr-password-123", "user", "User")
GUESS = ("guess@" + D, "guess-password-123", "secadmin", "Guessed Admin")
SRV = None


def setUpModule():
    global SRV
    SRV = yz.Server(users=[SA, SEC, AUD, USR, GUESS], name="test_totp")
    SRV.start()


def tearDownModule():
    if SRV:
        SRV.stop()


def signin(u):
    return yz.login(SRV, u[0], u[1], source_ip=SRV.new_ip())


def show(addr):
    cp = SRV.cli("user", "show", "--data", SRV.data, addr)
    assert cp.returncode == 0, cp.stderr
    out = {}
    for line in cp.stdout.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


class Roles(unittest.TestCase):
    def test_user_needs_no_totp(self):
        s = signin(USR)
        self.assertEqual(s.next, "done")
        self.assertIs(s.me()["session_complete"], True)

    def test_admin_roles_must_enrol(self):
        for u in (SA, SEC, AUD):
            with self.subTest(role=u[2]):
                s = signin(u)
                self.assertEqual(s.next, "totp_enrol", u[2])
                me = s.me()
                self.assertIs(me["session_complete"], False)
                self.assertIs(me["totp_enabled"], False)
                self.assertEqual(me["role"], u[2])

    def test_partial_session_is_limited(self):
        """An auditor before enrolment may not read the audit log; after, it may."""
        s = signin(AUD)
        self.assertEqual(s.next, "totp_enrol")
        for path in ("/api/v1/audit", "/api/v1/audit/export?format=json"):
            yz.assert_error(self, s.get(path), 403, "forbidden", "partial " + path)
        self.assertEqual(s.get("/api/v1/me").status, 200)
        # The TOTP sign-in step is not a way around enrolment.
        r = s.post("/api/v1/session/totp", {"code": "123456"})
        self.assertNotEqual(r.status, 200, r)
        self.assertIs(s.me()["session_complete"], False)
        s.enrol_and_confirm()
        self.assertIs(s.me()["session_complete"], True)
        r = s.get("/api/v1/audit")
        self.assertEqual(r.status, 200, r)


class Pages(unittest.TestCase):
    def test_user_gets_no_admin_console(self):
        s = signin(USR)
        self.assertEqual(s.get("/").status, 200)
        r = s.get("/admin")
        self.assertIn(r.status, (302, 303, 307, 403), r)
        if r.status != 403:
            # Away from the console: to the sign-in page or to the user's own app.
            self.assertIn(urllib.parse.urlsplit(r.headers.get("location", "")).path,
                          ("/login", "/"))


class SysadminFlow(unittest.TestCase):
    def test_flow(self):
        before = show(SA[0])

        # 1. First sign-in: enrolment is required.
        s = signin(SA)
        self.assertEqual(s.next, "totp_enrol")
        yz.assert_error(self, s.get("/api/v1/audit"), 403, "forbidden", "before enrolment")
        r = s.post("/api/v1/totp/confirm", {"code": "123456"})
        self.assertNotEqual(r.status, 200, "confirm before enrol: %r" % (r,))

        # A partial session gets no app shell and no admin console.
        for page in ("/", "/admin"):
            r = s.get(page)
            self.assertNotEqual(r.status, 200, "partial session got %s: %r" % (page, r))

        # 2. Enrol.
        r = s.post("/api/v1/totp/enrol", {})
        self.assertEqual(r.status, 200, r)
        j = r.json()
        secret, uri = j["secret"], j["uri"]
        raw = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
        self.assertGreaterEqual(len(raw), 16, "TOTP secret below 128 bits (RFC 4226 4)")
        u = urllib.parse.urlsplit(uri)
        self.assertEqual((u.scheme, u.netloc), ("otpauth", "totp"), uri)
        self.assertEqual(yz.totp_params(uri)[0], secret, "uri secret differs")
        self.assertIn(SA[0], urllib.parse.unquote(u.path), "uri label lacks the address")
        self.assertNotIn(secret, json.dumps(s.me()), "secret in /me")

        # 3. A wrong code does not confirm.
        r = s.post("/api/v1/totp/confirm", {"code": yz.wrong_code(secret)})
        yz.assert_error(self, r, 401, "totp_invalid", "confirm with a wrong code")
        self.assertIs(s.me()["session_complete"], False)

        # 4. The right code confirms and completes the session.
        t_confirm = time.time()
        step_confirm = int(t_confirm // 30)
        r = s.post("/api/v1/totp/confirm", {"code": yz.totp(secret, t_confirm)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("next"), "done")
        me = s.me()
        self.assertIs(me["session_complete"], True)
        self.assertIs(me["totp_enabled"], True)
        self.assertNotEqual(before.get("totp"), show(SA[0]).get("totp"),
                            "`user show` totp line unchanged by enrolment")

        r = s.get("/admin")
        self.assertEqual(r.status, 200, "sysadmin after enrolment: GET /admin %r" % (r,))
        self.assertTrue(r.headers.get("content-type", "").startswith("text/html"))

        # 4b. The code that confirmed enrolment is spent: it cannot also sign in.
        confirm_code = yz.totp(secret, t_confirm)
        sr = signin(SA)
        self.assertEqual(sr.next, "totp")
        r = sr.totp_verify(confirm_code)
        yz.assert_error(self, r, 401, "totp_invalid", "replay of the enrolment code")
        self.assertIs(sr.me()["session_complete"], False)

        # 5. Next sign-in wants a code. Wait for a new time step: the confirm code is spent.
        yz.sleep_until_next_step(step_confirm)
        s2 = signin(SA)
        self.assertEqual(s2.next, "totp")
        me = s2.me()
        self.assertIs(me["session_complete"], False)
        self.assertIs(me["totp_enabled"], True)
        # With only the password, the second factor cannot be replaced by a new enrolment.
        r = s2.post("/api/v1/totp/enrol", {})
        self.assertNotEqual(r.status, 200, "re-enrolment from a password-only session: %r"
                            % (r,))

        r = s2.totp_verify(yz.wrong_code(secret))
        yz.assert_error(self, r, 401, "totp_invalid", "wrong code")
        self.assertIs(s2.me()["session_complete"], False)

        t = time.time()
        code = yz.totp(secret, t)
        r = s2.totp_verify(code)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("next"), "done")
        self.assertIs(s2.me()["session_complete"], True)

        # 6. The same code again, in a fresh session: refused.
        s3 = signin(SA)
        self.assertEqual(s3.next, "totp")
        r = s3.totp_verify(code)
        yz.assert_error(self, r, 401, "totp_invalid", "replayed code")
        self.assertIs(s3.me()["session_complete"], False)

        # 7. A code from far outside the window is refused.
        s4 = signin(SA)
        r = s4.totp_verify(yz.totp(secret, t - 3600))
        yz.assert_error(self, r, 401, "totp_invalid", "code from an hour ago")

        # 8. `user totp-reset`: the next sign-in must enrol again.
        cp = SRV.cli("user", "totp-reset", "--data", SRV.data, SA[0])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        s5 = signin(SA)
        self.assertEqual(s5.next, "totp_enrol")
        self.assertIs(s5.me()["totp_enabled"], False)


class CodeGuessing(unittest.TestCase):
    def test_signing_in_again_does_not_reset_the_code_count(self):
        """Wrong codes count as sign-in failures across sessions: the password step must
        not clear the count, or a password holder could guess codes without limit."""
        s = signin(GUESS)
        self.assertEqual(s.next, "totp_enrol")
        secret = s.post("/api/v1/totp/enrol", {}).json()["secret"]
        self.assertEqual(s.post("/api/v1/totp/confirm",
                                {"code": yz.totp(secret)}).status, 200)
        statuses = []
        for _ in range(3):  # three rounds of: password, then wrong codes
            try:
                s2 = signin(GUESS)
            except yz.LoginFailed as e:
                statuses.append(e.resp.status)
                break
            self.assertEqual(s2.next, "totp")
            for _ in range(2):
                statuses.append(s2.totp_verify(yz.wrong_code(secret)).status)
        # failures 1-3 answer 401; the 4th attempt (code or password) is made to wait
        self.assertEqual(statuses[:3], [401, 401, 401], statuses)
        self.assertIn(429, statuses[3:], statuses)


if __name__ == "__main__":
    yz.main()
