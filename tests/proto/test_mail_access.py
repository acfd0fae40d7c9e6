#!/usr/bin/env python3
"""The mail API (docs/API.md "Mail"), limits and rights: the quota; CSRF, bearer-token scopes
and roles; the JSON errors of malformed requests. Shared helpers: mailapi.py."""

import os
import random
import re
import time
import unittest
import urllib.parse
import email.utils

import yzharness as yz
import mailapi
from mailapi import *  # noqa: F401,F403 (accounts, messages, API helpers)


def setUpModule():
    mailapi.start()


def tearDownModule():
    mailapi.stop()


# ---------------------------------------------------------------------------------------------
# Quota


def blob_count():
    n = 0
    for _dirpath, _dirs, files in os.walk(os.path.join(mailapi.SRV.data, "blobs")):
        n += sum(1 for f in files if not f.startswith("."))
    return n


class Quota(unittest.TestCase):
    def set_quota(self, n):
        yz.sql_write(mailapi.SRV.data, "directory.db",
                     "UPDATE service_classes SET quota_bytes = ? WHERE name = 'proto-small'",
                     (n,))

    def test_over_quota(self):
        yz.sql_write(mailapi.SRV.data, "directory.db",
                     "INSERT INTO service_classes (name, quota_bytes, max_message_bytes,"
                     " max_recipients, netdisk_bytes) VALUES ('proto-small', 0, 52428800,"
                     " 500, 0)")
        yz.sql_write(mailapi.SRV.data, "directory.db",
                     "UPDATE accounts SET class_id = (SELECT id FROM service_classes WHERE"
                     " name = 'proto-small') WHERE address = ?", (QUAN[0],))
        s = signin(QUAN)
        inbox = folder_id(self, s, role="inbox")
        m1 = text_mail("配额一", "a@example.cn", "Mon, 01 Jul 2024 10:00:00 +0800", "一" * 50)
        m2 = text_mail("配额二", "a@example.cn", "Mon, 01 Jul 2024 11:00:00 +0800", "二" * 80)
        m3 = text_mail("配额三", "a@example.cn", "Mon, 01 Jul 2024 12:00:00 +0800", "三" * 60)
        id1 = upload(self, s, inbox, m1)
        self.set_quota(len(m1) + len(m2))
        self.assertEqual(folder_list(self, s)["usage"],
                         {"bytes": len(m1), "messages": 1, "quota": len(m1) + len(m2)})
        id2 = upload(self, s, inbox, m2)  # exactly full
        blobs = blob_count()
        r = s.req("POST", "/api/v1/folders/%d/messages" % inbox,
                  headers={"Content-Type": "message/rfc822"}, body=m3)
        self.assertEqual(r.status, 507, r)
        with self.subTest(check="507 body"):
            yz.assert_error(self, r, 507, "over_quota", "upload over quota")
        self.assertEqual(folder_list(self, s)["usage"],
                         {"bytes": len(m1) + len(m2), "messages": 2,
                          "quota": len(m1) + len(m2)})
        self.assertEqual(sorted(page_ids(self, s, {"folder": inbox}, 50)), sorted([id1, id2]))
        self.assertEqual(blob_count(), blobs, "a refused upload left a blob behind")
        # a copy needs room too
        r = s.req("PATCH", "/api/v1/messages", body={"ids": [id1], "copy": folder_id(
            self, s, role="archive")})
        self.assertEqual(r.status, 507, r)
        with self.subTest(check="507 body of a copy"):
            yz.assert_error(self, r, 507, "over_quota", "copy over quota")
        self.assertEqual(folder_by(self, s, role="archive")["total"], 0)
        # Trash still counts; expunging frees the room
        s.req("DELETE", "/api/v1/messages", body={"ids": [id2]})
        r = s.req("POST", "/api/v1/folders/%d/messages" % inbox,
                  headers={"Content-Type": "message/rfc822"}, body=m3)
        self.assertEqual(r.status, 507, "Trash counts against the quota: %r" % (r,))
        s.req("DELETE", "/api/v1/messages", body={"ids": [id2]})
        id3 = upload(self, s, inbox, m3)
        self.assertEqual(s.get("/api/v1/messages/%d/raw" % id3).body, m3)
        self.assertEqual(folder_list(self, s)["usage"]["bytes"], len(m1) + len(m3))
        self.set_quota(0)  # unlimited
        upload(self, s, inbox, m2)
        self.assertEqual(folder_list(self, s)["usage"]["quota"], 0)


# ---------------------------------------------------------------------------------------------
# Who may do what


class Access(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = signin(REN)
        cls.inbox = folder_id(CHK, cls.s, role="inbox")
        cls.raw = text_mail("权限测试", "a@example.cn", "Mon, 01 Jul 2024 10:00:00 +0800",
                            "内容\n")
        r = cls.s.req("POST", "/api/v1/folders/%d/messages" % cls.inbox,
                      headers={"Content-Type": "message/rfc822"}, body=cls.raw)
        assert r.status == 201, r
        cls.mid = r.json()["id"]

    def bearer(self, token):
        def req(method, path, body=None, headers=None):
            h = {"Authorization": "Bearer " + token}
            h.update(headers or {})
            return mailapi.SRV.req(method, path, headers=h, body=body)
        return req

    def writes(self, send):
        """The state-changing requests, each with what it would change."""
        upl = lambda: send("POST", "/api/v1/folders/%d/messages" % self.inbox, self.raw,
                           {"Content-Type": "message/rfc822"})
        return [
            ("create folder", lambda: send("POST", "/api/v1/folders", {"name": "不许"})),
            ("upload", upl),
            ("patch", lambda: send("PATCH", "/api/v1/messages", {"ids": [self.mid],
                                                                  "seen": True})),
            ("delete", lambda: send("DELETE", "/api/v1/messages", {"ids": [self.mid]})),
            ("rename folder", lambda: send("PATCH", "/api/v1/folders/%d" % self.folder2,
                                           {"name": "改名"})),
            ("delete folder", lambda: send("DELETE", "/api/v1/folders/%d" % self.folder2)),
        ]

    def state(self):
        j = folder_list(self, self.s)
        m = get_msg(self, self.s, self.mid)
        return j, (m["flags"], m["folder"])

    def setUp(self):
        f = folder_by(self, self.s, path="留下")
        self.folder2 = f["id"] if f else make_folder(self, self.s, "留下")["id"]

    def test_csrf(self):
        before = self.state()
        for token in (False, "0" * 64, self.s.csrf[:-1]):
            def send(method, path, body=None, headers=None, token=token):
                return self.s.req(method, path, body=body, headers=headers, csrf=token)
            for what, fn in self.writes(send):
                with self.subTest(what=what, token=token):
                    yz.assert_error(self, fn(), 403, "csrf", what)
        self.assertEqual(self.state(), before, "a refused write changed something")

    def test_read_token(self):
        token = yz.token_add(mailapi.SRV, REN[0], "mail.read")
        req = self.bearer(token)
        r = req("GET", "/api/v1/folders")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([f["role"] for f in r.json()["items"]][:6], SPECIAL)
        r = req("GET", "/api/v1/messages")
        self.assertEqual(r.status, 200, r)
        self.assertIn(self.mid, [it["id"] for it in r.json()["items"]])
        r = req("GET", "/api/v1/messages/%d" % self.mid)
        self.assertEqual((r.status, r.json()["subject"]), (200, "权限测试"))
        self.assertEqual(req("GET", "/api/v1/messages/%d/raw" % self.mid).body, self.raw)
        r = req("GET", "/api/v1/search?q=" + urllib.parse.quote("权限"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["pending"] >= 0, True)
        before = self.state()
        for what, fn in self.writes(req):
            with self.subTest(what=what):
                r = fn()
                yz.assert_error(self, r, 403, "forbidden", what)
                self.assertIn("insufficient_scope", r.headers.get("www-authenticate", ""))
        self.assertEqual(self.state(), before)

    def test_write_token(self):
        token = yz.token_add(mailapi.SRV, REN[0], "mail.read", "mail.write")
        req = self.bearer(token)
        r = req("PATCH", "/api/v1/messages", {"ids": [self.mid], "flagged": True})
        self.assertEqual(r.status, 200, "a token needs no CSRF header: %r" % (r,))
        self.assertIn("flagged", get_msg(self, self.s, self.mid)["flags"])
        r = req("PATCH", "/api/v1/messages", {"ids": [self.mid], "flagged": False})
        self.assertEqual(r.status, 200, r)
        only_write = self.bearer(yz.token_add(mailapi.SRV, REN[0], "mail.write"))
        r = only_write("GET", "/api/v1/folders")
        yz.assert_error(self, r, 403, "forbidden", "mail.write without mail.read")
        profile = self.bearer(yz.token_add(mailapi.SRV, REN[0], "profile.read"))
        for path in ("/api/v1/folders", "/api/v1/messages", "/api/v1/search?q=x",
                     "/api/v1/messages/%d" % self.mid):
            yz.assert_error(self, profile("GET", path), 403, "forbidden", "profile.read " + path)

    def test_bad_token(self):
        r = self.bearer("yz_" + "0" * 40)("GET", "/api/v1/folders")
        yz.assert_error(self, r, 401, "unauthorized", "unknown token")
        self.assertIn("invalid_token", r.headers.get("www-authenticate", ""))
        r = mailapi.SRV.req("GET", "/api/v1/folders")
        yz.assert_error(self, r, 401, "unauthorized", "no credentials")

    def test_admin_roles_have_no_mailbox(self):
        s = yz.login(mailapi.SRV, SA[0], SA[1], source_ip=mailapi.SRV.new_ip())
        s.enrol_and_confirm()
        self.assertEqual(s.me()["role"], "sysadmin")
        for method, path, body in (("GET", "/api/v1/folders", None),
                                   ("GET", "/api/v1/messages", None),
                                   ("GET", "/api/v1/messages/%d" % self.mid, None),
                                   ("GET", "/api/v1/messages/%d/raw" % self.mid, None),
                                   ("GET", "/api/v1/search?q=x", None),
                                   ("GET", "/api/v1/threads/1", None),
                                   ("POST", "/api/v1/folders", {"name": "x"}),
                                   ("PATCH", "/api/v1/messages", {"ids": [self.mid],
                                                                  "seen": True})):
            with self.subTest(path=path, method=method):
                yz.assert_error(self, s.req(method, path, body=body), 403, "forbidden", path)
        cp = yz.run_cli(["token", "add", "--data", mailapi.SRV.data, SA[0], "--name", "x", "--scope",
                         "mail.read"])
        self.assertNotEqual(cp.returncode, 0, "a mail token for an admin account")


# ---------------------------------------------------------------------------------------------
# Malformed requests


class Malformed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = signin(MA)
        cls.inbox = folder_id(CHK, cls.s, role="inbox")
        cls.raw = text_mail("错误测试", "a@example.cn", "Mon, 01 Jul 2024 10:00:00 +0800", "x\n")
        r = cls.s.req("POST", "/api/v1/folders/%d/messages" % cls.inbox,
                      headers={"Content-Type": "message/rfc822"}, body=cls.raw)
        assert r.status == 201, r
        cls.mid = r.json()["id"]

    def test_patch_bodies(self):
        m = self.mid
        bad = [
            b"not json", b"", b"[]", b'"x"', b"{", b'{"ids":[%d],"seen":true,"seen":false}' % m,
        ]
        for body in bad:
            with self.subTest(body=body):
                r = self.s.req("PATCH", "/api/v1/messages", body=body,
                               headers={"Content-Type": "application/json"})
                yz.assert_error(self, r, 400, "bad_request", "body %r" % body)
        objs = [{}, {"seen": True}, {"ids": [], "seen": True}, {"ids": "1", "seen": True},
                {"ids": ["%d" % m], "seen": True}, {"ids": [0], "seen": True},
                {"ids": [-m], "seen": True}, {"ids": [1.5], "seen": True},
                {"ids": [m] * 10001, "seen": True}, {"ids": [m], "seen": "yes"},
                {"ids": [m], "seen": 1}, {"ids": [m], "flagged": None},
                {"ids": [m], "pinned": "x"}, {"ids": [m]}, {"ids": [m], "bogus": True},
                {"ids": [m], "keywords_add": "x"}, {"ids": [m], "keywords_remove": [1]}]
        for body in objs:
            with self.subTest(body=str(body)[:60]):
                r = self.s.req("PATCH", "/api/v1/messages", body=body)
                yz.assert_error(self, r, 400, "bad_request", str(body)[:60])
        r = self.s.req("PATCH", "/api/v1/messages", body={"ids": [999999], "seen": True})
        yz.assert_error(self, r, 404, "not_found", "unknown id")
        r = self.s.req("PATCH", "/api/v1/messages", body=b'{"ids":[1]}',
                       headers={"Content-Type": "text/plain"})
        yz.assert_error(self, r, 415, "unsupported_media_type", "text/plain JSON")
        m_ = get_msg(self, self.s, m)
        self.assertEqual((m_["flags"], m_["pinned"], m_["keywords"]), ([], False, []))

    def test_delete_bodies(self):
        for body, q in ((None, ""), ({}, ""), ({"ids": []}, ""), ({"ids": ["x"]}, ""),
                        (None, "?ids="), (None, "?ids=a,b"),
                        (None, "?ids=0")):
            with self.subTest(body=body, q=q):
                r = self.s.req("DELETE", "/api/v1/messages" + q, body=body)
                yz.assert_error(self, r, 400, "bad_request", "DELETE %r %s" % (body, q))
        r = self.s.req("DELETE", "/api/v1/messages", body={"ids": [999999]})
        yz.assert_error(self, r, 404, "not_found", "DELETE unknown")
        self.assertEqual(get_msg(self, self.s, self.mid)["folder"], self.inbox)

    def test_unknown_ids(self):
        for path in ("/api/v1/messages/999999", "/api/v1/messages/999999/raw",
                     "/api/v1/messages/999999/parts/1", "/api/v1/messages/abc",
                     "/api/v1/messages/0", "/api/v1/messages/-1",
                     "/api/v1/messages/%d/parts/9" % self.mid, "/api/v1/threads/999999"):
            with self.subTest(path=path):
                yz.assert_error(self, self.s.get(path), 404, "not_found", path)

    def test_another_accounts_message(self):
        # ids are per mailbox: the same number elsewhere is another message (or none)
        other = signin(CHEN)
        r = other.get("/api/v1/messages/%d/raw" % self.mid)
        if r.status == 200:
            self.assertNotEqual(r.body, self.raw, "another account reads this message")
        else:
            yz.assert_error(self, r, 404, "not_found", "someone else's id")
        lonely = signin(XIN)
        for path in ("/api/v1/messages/%d", "/api/v1/messages/%d/raw"):
            yz.assert_error(self, lonely.get(path % self.mid), 404, "not_found",
                            "an empty mailbox")
        r = lonely.req("PATCH", "/api/v1/messages", body={"ids": [self.mid], "seen": True})
        yz.assert_error(self, r, 404, "not_found", "changing in an empty mailbox")
        self.assertEqual(get_msg(self, self.s, self.mid)["flags"], [])

    def test_uploads(self):
        up = lambda folder, body, ct: self.s.req(
            "POST", "/api/v1/folders/%s/messages" % folder, body=body,
            headers={} if ct is None else {"Content-Type": ct})
        yz.assert_error(self, up(self.inbox, self.raw, "text/plain"), 415,
                        "unsupported_media_type", "text/plain upload")
        yz.assert_error(self, up(self.inbox, self.raw, None), 415, "unsupported_media_type",
                        "upload without a type")
        yz.assert_error(self, up(self.inbox, b"", "message/rfc822"), 400, "bad_request",
                        "empty upload")
        for folder in ("999999", "abc", "0"):
            yz.assert_error(self, up(folder, self.raw, "message/rfc822"), 404, "not_found",
                            "upload to folder " + folder)
        self.assertEqual(folder_by(self, self.s, role="inbox")["total"], 1)


if __name__ == "__main__":
    yz.main()
