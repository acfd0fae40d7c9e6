#!/usr/bin/env python3
"""Self-checks of the test client code against published vectors; needs no server.

RFC 7677 section 3 (SCRAM-SHA-256), RFC 6238 appendix B (TOTP), RFC 7235/7804 auth-params.
"""

import base64
import unittest

import yzharness as yz


class ScramVector(unittest.TestCase):
    # RFC 7677 section 3.
    CNONCE = "rOprNGfwEbeRWgbNEkqO"
    NONCE = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    SERVER_FIRST = "r=%s,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096" % NONCE

    def test_client_first(self):
        msg, bare, cnonce = yz.client_first("user", self.CNONCE)
        self.assertEqual(msg, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        self.assertEqual(bare, "n=user,r=rOprNGfwEbeRWgbNEkqO")
        self.assertEqual(cnonce, self.CNONCE)

    def test_rfc7677_vector(self):
        _, bare, _ = yz.client_first("user", self.CNONCE)
        fin = yz.client_final("pencil", bare, self.SERVER_FIRST, self.CNONCE)
        self.assertEqual(fin.message,
                         "c=biws,r=%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=" %
                         self.NONCE)
        self.assertEqual(base64.b64encode(fin.proof).decode(),
                         "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        self.assertEqual(base64.b64encode(fin.server_signature).decode(),
                         "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")

    def test_server_final_check(self):
        _, bare, _ = yz.client_first("user", self.CNONCE)
        fin = yz.client_final("pencil", bare, self.SERVER_FIRST, self.CNONCE)
        good = yz.Resp(200, {"authentication-info": "sid=abc, data=" + yz.b64e(
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")}, b"{}")
        yz.verify_server_final(good, fin.server_signature, "abc")
        bad = yz.Resp(200, {"authentication-info": "sid=abc, data=" + yz.b64e(
            "v=" + yz.b64e(b"\0" * 32))}, b"{}")
        with self.assertRaises(yz.ScramError):
            yz.verify_server_final(bad, fin.server_signature, "abc")
        with self.assertRaises(yz.ScramError):
            yz.verify_server_final(good, fin.server_signature, "other-sid")

    def test_nonce_must_extend(self):
        _, bare, _ = yz.client_first("user", "abc")
        with self.assertRaises(yz.ScramError):
            yz.client_final("pencil", bare, self.SERVER_FIRST, "abc")

    def test_saslname(self):
        self.assertEqual(yz.saslname("a,b=c@x"), "a=2Cb=3Dc@x")


class AuthParams(unittest.TestCase):
    def test_www_authenticate(self):
        p = yz.parse_auth_params('SCRAM-SHA-256 sid=AAAAAAAAAAAAAAAA, data=cj1yT3By==')
        self.assertEqual(p, {"sid": "AAAAAAAAAAAAAAAA", "data": "cj1yT3By=="})

    def test_quoted_and_realm(self):
        p = yz.parse_auth_params('SCRAM-SHA-256 realm="x, y", sid="q\\"r", data=abc=')
        self.assertEqual(p, {"realm": "x, y", "sid": 'q"r', "data": "abc="})

    def test_second_challenge(self):
        p = yz.parse_auth_params('Basic realm="r", SCRAM-SHA-256 data=Zm9v')
        self.assertEqual(p, {"data": "Zm9v"})

    def test_authentication_info(self):
        p = yz.parse_auth_params("sid=xyz, data=dj1hYmM=", scheme=None)
        self.assertEqual(p, {"sid": "xyz", "data": "dj1hYmM="})

    def test_cookie_attrs(self):
        n, v, a = yz.set_cookie_attrs(
            "__Host-yz_session=abc; Path=/; Secure; HttpOnly; SameSite=Strict")
        self.assertEqual((n, v), ("__Host-yz_session", "abc"))
        self.assertEqual(a, {"path": "/", "secure": True, "httponly": True,
                             "samesite": "Strict"})


class TotpVector(unittest.TestCase):
    # RFC 6238 appendix B, SHA-1 rows; the seed is the ASCII "12345678901234567890".
    SECRET = base64.b32encode(b"12345678901234567890").decode()

    def test_rfc6238(self):
        for t, want in ((59, "94287082"), (1111111109, "07081804"),
                        (1111111111, "14050471"), (1234567890, "89005924"),
                        (2000000000, "69279037"), (20000000000, "65353130")):
            self.assertEqual(yz.totp(self.SECRET, t, digits=8), want, t)

    def test_six_digits_and_lowercase_unpadded(self):
        s = self.SECRET.lower().rstrip("=")
        self.assertEqual(yz.totp(s, 59), "287082")

    def test_uri(self):
        uri = ("otpauth://totp/Yizhan:a%40example.test?secret=" + self.SECRET +
               "&issuer=Yizhan")
        self.assertEqual(yz.totp_from_uri(uri, 59), "287082")

    def test_wrong_code(self):
        w = yz.wrong_code(self.SECRET, 1111111109)
        self.assertNotEqual(w, yz.totp(self.SECRET, 1111111109))
        self.assertEqual(len(w), 6)


if __name__ == "__main__":
    yz.main()
