"""nodemailer (npm), the SMTP client most Node.js applications (OA systems among them) send
with, against `yizhan serve`: AUTH PLAIN after STARTTLS on 587, AUTH LOGIN on 465, a pool of
two connections carrying three messages at once, a wrong password (535) and a client that will
not use TLS (538: AUTH needs TLS). What arrives is checked through the web
API: the Chinese subject and sender name decoded, both bodies, the attachment's Chinese name
and bytes.

Run: YIZHAN_BIN=build/server/yizhan /usr/bin/python3 tests/proto/test_smtp_nodemailer.py -v
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yzharness as yz  # noqa: E402

D = yz.DOMAIN
USER = ("node@" + D, "node-password-1", "user", "Node")
RCPT = ("ming@" + D, "ming-password-1", "user", "明")
HERE = os.path.dirname(os.path.abspath(__file__))


class Nodemailer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("node") or not os.path.isdir(
                os.path.join(yz.REPO, "node_modules", "nodemailer")):
            raise AssertionError("node or nodemailer missing: run scripts/setup.sh")
        cls.srv = yz.Server(users=[USER, RCPT], name="nodemailer")
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_send(self):
        srv = self.srv
        tag = "t%d" % int(time.time() * 1000)
        body = "会议纪要：第一项，第二项。\n".encode() * 50
        with tempfile.NamedTemporaryFile(suffix=".txt") as f:
            f.write(body)
            f.flush()
            cp = subprocess.run(
                ["node", os.path.join(HERE, "smtp_nodemailer.mjs"), str(srv.base + 587),
                 str(srv.base + 465), os.path.join(srv.data, "tls", "cert.pem"), USER[0],
                 USER[1], RCPT[0], f.name, tag],
                capture_output=True, text=True, timeout=120)
        sys.stderr.write(cp.stderr)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        res = {r["name"]: r for r in map(json.loads, cp.stdout.split("\n")[:-1])}
        for name in ("587-plain", "465-login", "pooled"):
            self.assertTrue(res[name]["ok"], res[name])
            self.assertTrue(res[name]["response"].startswith("250"), res[name])
        self.assertFalse(res["bad-password"]["ok"])
        self.assertEqual(res["bad-password"]["code"], 535, res["bad-password"])
        # AUTH before STARTTLS: 538 5.7.11 (RFC 3207 / RFC 4954), nothing is sent
        self.assertFalse(res["no-tls"]["ok"], res["no-tls"])
        self.assertEqual(res["no-tls"]["code"], 538, res["no-tls"])

        # five messages arrive in the recipient's inbox, whole and decoded
        s = yz.login(srv, RCPT[0], RCPT[1])
        inbox = [x for x in s.get("/api/v1/folders").json()["items"] if x["role"] == "inbox"][0]
        deadline = time.monotonic() + 30
        while True:
            items = [m for m in s.get("/api/v1/messages?folder=%d&limit=100" % inbox["id"])
                     .json()["items"] if m["subject"].endswith(tag)]
            if len(items) >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        subjects = sorted(m["subject"] for m in items)
        self.assertEqual(subjects, sorted("nodemailer %s 季度报告 %s" % (how, tag) for how in
                                          ("587 STARTTLS", "465 TLS", "pool 1", "pool 2",
                                           "pool 3")))
        for m in items:
            full = s.get("/api/v1/messages/%d" % m["id"]).json()
            self.assertEqual(full["from"]["address"], USER[0])
            self.assertEqual(full["from"]["name"], "节点测试")
            self.assertIn("发出的邮件。", full["text"])
            self.assertIn("<b>nodemailer</b>", full["html"])
            self.assertEqual([a["name"] for a in full["attachments"]], ["会议纪要.txt"])
            part = full["attachments"][0]["part"]
            r = s.req("GET", "/api/v1/messages/%d/parts/%s" % (m["id"], part))
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, body)
        # and the sender's copies are not duplicated into the recipient's box
        self.assertEqual(len(items), 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
