#!/usr/bin/env python3
"""CSRF: every state-changing request needs the session's X-CSRF-Token (docs/API.md)."""

import unittest

import yzharness as yz

SRV = None
KAI = ("kai@example.test", "kai-password-1", "user", "Kai")
LIN = ("lin@example.test", "lin-password-1", "user", "Lin")


def setUpModule():
    global SRV
    SRV = yz.Server(users=[KAI, LIN], name="test_csrf")
    SRV.start()


def tearDownModule():
    if SRV:
        SRV.stop()


def signin(u=KAI):
    return yz.login(SRV, u[0], u[1], source_ip=SRV.new_ip())


class Csrf(unittest.TestCase):
    def assert_still_signed_in(self, s):
        r = s.get("/api/v1/me")
        self.assertEqual(r.status, 200, "session lost after a refused request: %r" % (r,))

    def test_get_needs_no_token(self):
        s = signin()
        r = s.get("/api/v1/me", csrf=False)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["address"], KAI[0])

    def test_delete_without_token(self):
        s = signin()
        r = s.delete("/api/v1/session", csrf=False)
        yz.assert_error(self, r, 403, "csrf", "no token")
        yz.assert_security_headers(self, r, "403 csrf")
        self.assert_still_signed_in(s)

    def test_delete_wrong_token(self):
        s = signin()
        flipped = s.csrf[:-1] + ("A" if s.csrf[-1] != "A" else "B")
        for bad in ("wrong", s.csrf[:-1], s.csrf + "x", flipped, s.csrf[::-1], "x" * 4096):
            if bad == s.csrf:
                continue
            with self.subTest(token=bad):
                r = s.delete("/api/v1/session", csrf=bad)
                yz.assert_error(self, r, 403, "csrf", "token %r" % bad)
        self.assert_still_signed_in(s)

    def test_token_of_another_session(self):
        a = signin(KAI)
        b = signin(LIN)
        c = signin(KAI)
        for other in (b, c):
            r = a.delete("/api/v1/session", csrf=other.csrf)
            yz.assert_error(self, r, 403, "csrf", "another session's token")
        self.assert_still_signed_in(a)

    def test_token_in_query_not_accepted(self):
        s = signin()
        r = s.req("DELETE", "/api/v1/session?csrf_token=" + s.csrf, csrf=False)
        yz.assert_error(self, r, 403, "csrf", "token in query string")
        self.assert_still_signed_in(s)

    def test_post_without_token(self):
        s = signin()
        r = s.post("/api/v1/totp/enrol", {}, csrf=False)
        yz.assert_error(self, r, 403, "csrf", "POST /api/v1/totp/enrol without token")
        r = s.post("/api/v1/session/totp", {"code": "123456"}, csrf=False)
        yz.assert_error(self, r, 403, "csrf", "POST /api/v1/session/totp without token")
        self.assert_still_signed_in(s)

    def test_delete_with_token(self):
        s = signin()
        self.assert_still_signed_in(s)
        r = s.delete("/api/v1/session")
        self.assertEqual(r.status, 204, r)
        yz.assert_security_headers(self, r, "204")
        yz.assert_error(self, s.get("/api/v1/me"), 401, "unauthorized", "after sign-out")

    def test_anonymous_state_change(self):
        """Without a session, a state change is refused as unauthenticated, not as csrf."""
        r = SRV.req("DELETE", "/api/v1/session", headers={"X-CSRF-Token": "x"})
        yz.assert_error(self, r, 401, "unauthorized", "anonymous DELETE /api/v1/session")


if __name__ == "__main__":
    yz.main()
