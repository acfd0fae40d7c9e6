"""The signed-in user's own account: display name and language (PATCH /api/v1/me), the list of
signed-in sessions and signing the others out, and the password change in which the password
never crosses the wire (the old one proven by a SCRAM exchange, the new one sent as a SCRAM
secret the client derived itself)."""

import hashlib
import hmac
import os
import unittest

import yzharness as yz

D = yz.DOMAIN
MEI = ("mei@" + D, "mei-password-123", "user", "梅")
SRV = None


def setUpModule():
    global SRV
    SRV = yz.Server(users=[MEI], name="test_account")
    SRV.start()


def tearDownModule():
    SRV.stop()


def scram_secret(password, iterations=16384):
    salt = os.urandom(16)
    sp = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    ck = hmac.new(sp, b"Client Key", hashlib.sha256).digest()
    sk = hmac.new(sp, b"Server Key", hashlib.sha256).digest()
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, yz.b64e(salt),
                                          yz.b64e(hashlib.sha256(ck).digest()), yz.b64e(sk))


def change_password(s, old, new_secret, user=None):
    """The two steps of POST /api/v1/password; returns the second response (or the first if
    it did not ask for a proof)."""
    msg, bare, cnonce = yz.client_first(user or s.address)
    r1 = s.req("POST", "/api/v1/password",
               headers={"Authorization": yz.scram_header(msg),
                        "Content-Type": "application/json"}, body=b"{}")
    if r1.status != 401:
        return r1
    p = yz.parse_auth_params(r1.headers["www-authenticate"])
    server_first = yz.b64d(p["data"]).decode()
    fin = yz.client_final(old, bare, server_first, cnonce)
    return s.req("POST", "/api/v1/password",
                 headers={"Authorization": yz.scram_header(fin.message, sid=p["sid"])},
                 body={"secret": new_secret})


class Account(unittest.TestCase):
    def test_profile(self):
        s = yz.login(SRV, MEI[0], MEI[1])
        r = s.req("PATCH", "/api/v1/me", body={"name": "梅小姐", "language": "en"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["name"], r.json()["language"]), ("梅小姐", "en"))
        self.assertEqual(s.me()["name"], "梅小姐")
        yz.assert_error(self, s.req("PATCH", "/api/v1/me", body={"language": "fr"}), 400,
                        "bad_request")
        yz.assert_error(self, s.req("PATCH", "/api/v1/me", body={"name": 5}), 400,
                        "bad_request")
        s.req("PATCH", "/api/v1/me", body={"name": MEI[3], "language": "zh-CN"})

    def test_sessions_and_sign_out_elsewhere(self):
        a = yz.login(SRV, MEI[0], MEI[1], user_agent="phone")
        b = yz.login(SRV, MEI[0], MEI[1], user_agent="laptop")
        items = a.get("/api/v1/sessions").json()["items"]
        self.assertGreaterEqual(len(items), 2)
        self.assertEqual(sum(1 for i in items if i["current"]), 1)
        other = [i for i in items if i["client"] == "laptop"][0]
        self.assertRegex(other["id"], r"^[0-9a-f]{16}$")
        r = a.delete("/api/v1/sessions/" + other["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(b.get("/api/v1/me").status, 401)
        self.assertEqual(a.get("/api/v1/me").status, 200)
        c = yz.login(SRV, MEI[0], MEI[1])
        r = a.delete("/api/v1/sessions")
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(r.json()["signed_out"], 1)
        self.assertEqual(c.get("/api/v1/me").status, 401)
        self.assertEqual(a.get("/api/v1/me").status, 200)
        yz.assert_error(self, a.delete("/api/v1/sessions/zzzz"), 404, "not_found")

    def test_password_change(self):
        s = yz.login(SRV, MEI[0], MEI[1])
        other = yz.login(SRV, MEI[0], MEI[1])
        # the wrong old password is refused, and nothing changes
        r = change_password(s, "not-the-password", scram_secret("new-password-456"))
        yz.assert_error(self, r, 401, "auth_failed")
        # a proof for someone else's address is refused at step one
        r = change_password(s, MEI[1], scram_secret("x" * 12), user="someone@" + D)
        yz.assert_error(self, r, 400, "bad_request")
        # a weak secret (too few iterations) is refused
        r = change_password(s, MEI[1], scram_secret("new-password-456", iterations=4096))
        yz.assert_error(self, r, 400, "bad_request")
        r = change_password(s, MEI[1], scram_secret("new-password-456"))
        self.assertEqual(r.status, 200, r)
        # the other session ended, this one goes on, and only the new password works
        self.assertEqual(other.get("/api/v1/me").status, 401)
        self.assertEqual(s.get("/api/v1/me").status, 200)
        with self.assertRaises(yz.LoginFailed):
            yz.login(SRV, MEI[0], MEI[1])
        t = yz.login(SRV, MEI[0], "new-password-456")
        change_password(t, "new-password-456", scram_secret(MEI[1]))
        rows = yz.sql_read(os.path.join(SRV.data, "audit.db"),
                           "SELECT count(*) FROM audit WHERE type = 'account.passwd'")
        self.assertEqual(rows[0][0], 2)


if __name__ == "__main__":
    yz.main()
