"""Real IMAP clients nobody here wrote against `yizhan serve`: curl (imaps://), mbsync (isync)
two-way sync, and imapflow (npm, tests/proto/imap_imapflow.mjs). A client that is not
installed is skipped (scripts/setup.sh installs isync; npm installs imapflow).

Run: YIZHAN_BIN=build/server/yizhan /usr/bin/python3 tests/proto/test_imap_clients.py -v
"""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yzharness as h  # noqa: E402

USER = ("dora@example.test", "pw-dora-123", "user", "Dora")
SRV = None


def setUpModule():
    global SRV
    SRV = h.Server(users=[USER], name="imap-clients")
    SRV.start()


def tearDownModule():
    if SRV:
        SRV.stop()


def cafile():
    return os.path.join(SRV.data, "tls", "cert.pem")


def web():
    return h.login(SRV, USER[0], USER[1], source_ip=SRV.new_ip())


def inbox_items(s):
    inbox = [f for f in s.get("/api/v1/folders").json()["items"] if f["role"] == "inbox"][0]
    return s.get("/api/v1/messages?folder=%d&limit=500" % inbox["id"]).json()["items"]


def upload(s, raw):
    inbox = [f for f in s.get("/api/v1/folders").json()["items"] if f["role"] == "inbox"][0]
    r = s.req("POST", "/api/v1/folders/%d/messages" % inbox["id"],
              headers={"Content-Type": "message/rfc822"}, body=raw)
    assert r.status == 201, r
    return r.json()


class Curl(unittest.TestCase):
    def curl(self, url, *extra):
        cmd = ["curl", "-sS", "--max-time", "20", "--cacert", cafile(), "--resolve",
               "localhost:%d:127.0.0.1" % (SRV.base + 993), "-u", "%s:%s" % USER[:2]]
        return subprocess.run(cmd + list(extra) + [url], capture_output=True, timeout=30)

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl_list_and_fetch(self):
        s = web()
        up = upload(s, b"From: c@example.test\r\nSubject: for curl\r\n\r\ncurl body line\r\n")
        base = "imaps://localhost:%d/" % (SRV.base + 993)
        cp = self.curl(base)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(b'"INBOX"', cp.stdout)
        self.assertIn(b"\\Sent", cp.stdout)
        cp = self.curl(base + "INBOX;UID=%d" % up["uid"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(b"curl body line", cp.stdout)
        cp = self.curl(base + "INBOX?SUBJECT%20curl")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(b"SEARCH %d" % up["uid"], cp.stdout)


class Mbsync(unittest.TestCase):
    @unittest.skipUnless(shutil.which("mbsync"), "mbsync (Debian package isync) not installed")
    def test_two_way_sync(self):
        s = web()
        upload(s, b"From: far@example.test\r\nSubject: from the server\r\nMessage-ID: <far1@x>\r\n\r\nfar\r\n")
        work = os.path.join(SRV.root, "mbsync")
        maildir = os.path.join(work, "mail") + "/"
        os.makedirs(maildir)
        cfg = os.path.join(work, "mbsyncrc")
        with open(cfg, "w") as f:
            f.write("""IMAPAccount yz
Host localhost
Port %d
User %s
Pass %s
SSLType IMAPS
CertificateFile %s
AuthMechs LOGIN

IMAPStore yz-remote
Account yz

MaildirStore yz-local
Path %s
Inbox %sINBOX
SubFolders Verbatim

Channel yz
Far :yz-remote:
Near :yz-local:
Patterns INBOX Sent
Create Both
SyncState *
Sync All
Expunge None
""" % (SRV.base + 993, USER[0], USER[1], cafile(), maildir, maildir))

        def run():
            cp = subprocess.run(["mbsync", "-c", cfg, "-a"], capture_output=True, text=True,
                                timeout=60, env=dict(os.environ, HOME=work))
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        run()
        got = []
        for sub in ("cur", "new"):
            d = os.path.join(maildir, "INBOX", sub)
            for fn in os.listdir(d):
                with open(os.path.join(d, fn), "rb") as fh:
                    got.append(fh.read())
        self.assertTrue(any(b"Subject: from the server" in g for g in got), got)
        # push: a new local message goes up and appears in the web API
        newdir = os.path.join(maildir, "INBOX", "new")
        with open(os.path.join(newdir, "%d.local.yz:2,S" % time.time()), "wb") as fh:
            fh.write(b"From: near@example.test\r\nSubject: from mbsync\r\nMessage-ID: <near1@x>\r\n\r\nnear\r\n")
        run()
        subjects = [i["subject"] for i in inbox_items(s)]
        self.assertIn("from mbsync", subjects)
        it = [i for i in inbox_items(s) if i["subject"] == "from mbsync"][0]
        self.assertIn("seen", it["flags"])
        # a flag set in the web app reaches the Maildir name on the next sync
        r = s.req("PATCH", "/api/v1/messages", body={"ids": [it["id"]], "flagged": True})
        self.assertEqual(r.status, 200, r)
        run()
        names = os.listdir(os.path.join(maildir, "INBOX", "cur")) + os.listdir(newdir)
        self.assertTrue(any(n.endswith("FS") or ",F" in n or "F" in n.split(",")[-1] for n in names),
                        names)


class Imapflow(unittest.TestCase):
    def test_imapflow(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imap_imapflow.mjs")
        if not shutil.which("node") or not os.path.isdir(os.path.join(h.REPO, "node_modules",
                                                                     "imapflow")):
            self.skipTest("node or imapflow not installed (npm install)")
        cp = subprocess.run(["node", script, str(SRV.base + 993), cafile(), USER[0], USER[1]],
                            capture_output=True, text=True, timeout=60, cwd=h.REPO)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        out = json.loads(cp.stdout.strip().splitlines()[-1])
        self.assertIn("IDLE", out["capabilities"])
        self.assertEqual(out["special"].get("\\Sent"), "Sent")
        self.assertEqual(out["special"].get("\\Trash"), "Trash")
        self.assertTrue(out["source_ok"])
        self.assertEqual(out["subject"], "imapflow 你好")
        self.assertIn("\\Seen", out["flags"])
        self.assertIn("$label2", out["flags_after"])
        self.assertIn(out["appended"], out["search"])
        self.assertGreater(out["exists"], 0)
        self.assertLess(out["idle_ms"], 1000)
        s = web()
        it = [i for i in inbox_items(s) if i["subject"] == "imapflow 你好"][0]
        self.assertEqual(it["colour"], "orange")


if __name__ == "__main__":
    h.main()
