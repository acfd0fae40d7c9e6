#!/usr/bin/env python3
"""The mail API (docs/API.md "Mail"): folders (the six special-use ones, nested Chinese names,
conflicts, bad names, rename/move, delete to Trash); storing and reading messages with Chinese
headers and bodies (GB2312, GBK in a GB2312 label, GB18030, Big5, unlabelled 8-bit, encoded
words split inside a character, RFC 2231 file names, HTML-only mail, inline images) and corpus
messages; /raw byte for byte; /parts downloads (RFC 6266 file names, nosniff, never text/html);
keyset paging, sorting, filters; batch changes (seen and the unread counts, colour, pin, note,
keywords, move, copy); Trash, expunge and restore; search with the query syntax of
search/search.h and its highlights; threads; the quota; CSRF, bearer-token scopes and roles;
and the JSON errors of malformed requests.

Every account here belongs to one test class, so each class can assert exact counts."""

import os
import random
import re
import time
import unittest
import urllib.parse
import email.utils

import yzharness as yz

D = yz.DOMAIN
CORPUS = os.path.join(yz.REPO, "tests", "data", "mail")

XIN = ("xin@" + D, "xin-password-1", "user", "辛")        # a fresh mailbox, never changed
FANG = ("fang@" + D, "fang-password-1", "user", "方")     # folders
MEI = ("mei@" + D, "mei-password-1", "user", "梅")        # message content, parts, raw
PEI = ("pei@" + D, "pei-password-1", "user", "裴")        # paging, sorting, filters
CHEN = ("chen@" + D, "chen-password-1", "user", "陈")     # batch changes, Trash
SOU = ("sou@" + D, "sou-password-1", "user", "搜")        # search
SOU2 = ("sou2@" + D, "sou2-password-1", "user", "搜二")   # search after moves and deletes
XU = ("xu@" + D, "xu-password-1", "user", "徐")           # threads
QUAN = ("quan@" + D, "quan-password-1", "user", "全")     # quota
REN = ("ren@" + D, "ren-password-1", "user", "任")        # CSRF, tokens
MA = ("ma@" + D, "ma-password-1", "user", "马")           # malformed requests
SA = ("sa@" + D, "sa-password-123", "sysadmin", "Sys Admin")

SRV = None
CHK = unittest.TestCase()  # for assertions outside a test (setUpClass)
SPECIAL = ["inbox", "drafts", "sent", "trash", "junk", "archive"]
SPECIAL_NAMES = ["INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"]
DEFAULT_QUOTA = 5368709120


def setUpModule():
    global SRV
    SRV = yz.Server(users=[XIN, FANG, MEI, PEI, CHEN, SOU, SOU2, XU, QUAN, REN, MA, SA],
                    name="test_mail_api")
    SRV.start()


def tearDownModule():
    if SRV:
        SRV.stop()


def signin(u):
    return yz.login(SRV, u[0], u[1], source_ip=SRV.new_ip())


# ---------------------------------------------------------------------------------------------
# Writing messages: bytes exactly as a client would send them

CRLF = b"\r\n"
ew = yz.encoded_word
b64 = yz.b64_body


def _b(v):
    return v if isinstance(v, bytes) else v.encode("utf-8")


def part(headers, body):
    """A header block and a body (str bodies are UTF-8)."""
    h = b"".join(_b(k) + b": " + _b(v) + CRLF for k, v in headers)
    return h + CRLF + _b(body)


def multipart(boundary, parts):
    out = b""
    for p in parts:
        out += b"--" + _b(boundary) + CRLF + p + CRLF
    return out + b"--" + _b(boundary) + b"--" + CRLF


def text_mail(subject, from_, date, body, msgid=None, to=None, extra=()):
    """A text/plain UTF-8 message (base64, so the decoded text is exactly `body`)."""
    hdr = [("From", from_), ("To", to or "someone@" + D),
           ("Subject", subject if subject.isascii() else ew(subject, "UTF-8")),
           ("Date", date)]
    if msgid:
        hdr.append(("Message-ID", "<%s>" % msgid))
    hdr += list(extra)
    hdr += [("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=UTF-8"),
            ("Content-Transfer-Encoding", "base64")]
    return part(hdr, b64(body.encode("utf-8")))


def addr(name, address, charset="UTF-8", enc="B"):
    return "%s <%s>" % (ew(name, charset, enc), address)


# A PDF-ish payload with every byte value, so any transcoding of a download shows.
PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f000502" "01a5f1f0a90000000049454e44ae426082")

Q3_SUBJECT = "2024年第三季度销售报告"
Q3_DATE = "Tue, 15 Oct 2024 09:30:00 +0800"
Q3_TEXT = "各位同事：\n\n附件是第三季度销售报告，请查收。\n\n张伟\n"
Q3_NOTE = "这是说明文件。\n第二行。\n"
Q3 = part([
    ("From", addr("张伟", "zhang.wei@example.cn", "GB2312")),
    ("To", "%s, \"Wang Fang\" <wang.fang@example.test>" % addr("李娜", "li.na@example.test",
                                                            "GB2312")),
    ("Cc", addr("财务部", "finance@example.cn", "GB2312", "Q")),
    ("Subject", ew(Q3_SUBJECT, "GB2312")),
    ("Date", Q3_DATE),
    ("Message-ID", "<q3-2024@example.cn>"),
    ("MIME-Version", "1.0"),
    ("Content-Type", 'multipart/mixed; boundary="=_q3_boundary"'),
], b"This is a multi-part message in MIME format.\r\n\r\n" + multipart("=_q3_boundary", [
    part([("Content-Type", "text/plain; charset=GB2312"),
          ("Content-Transfer-Encoding", "base64")], b64(Q3_TEXT.encode("gb2312"))),
    part([("Content-Type", "application/pdf"),
          ("Content-Disposition", "attachment; filename*=%s" % yz.rfc2231("季度报告.pdf",
                                                                         "GB2312")),
          ("Content-Transfer-Encoding", "base64")], b64(PDF)),
    part([("Content-Type", 'text/plain; charset=gb2312; name="%s"' % ew("说明.txt", "GB2312")),
          ("Content-Disposition", 'attachment; filename="%s"' % ew("说明.txt", "GB2312")),
          ("Content-Transfer-Encoding", "base64")], b64(Q3_NOTE.encode("gb2312"))),
]))

# GBK characters (镕) under a GB2312 label: what Chinese mail clients really send.
GK_SUBJECT = "朱镕基同志讲话摘要"
GK_TEXT = "镕字在GBK里，不在GB2312里。\n"
GK = part([
    ("From", addr("编辑部", "editor@example.cn", "gbk", "Q")),
    ("To", "mei@" + D),
    ("Subject", ew(GK_SUBJECT.encode("gbk"), "gb2312")),
    ("Date", "Mon, 02 Sep 2024 08:00:00 +0800"),
    ("MIME-Version", "1.0"),
    ("Content-Type", "text/plain; charset=gb2312"),
    ("Content-Transfer-Encoding", "base64"),
], b64(GK_TEXT.encode("gbk")))

# One subject in two encoded words, the split falling inside a two-byte character.
SP_SUBJECT = "项目进度汇报"
_sp = SP_SUBJECT.encode("gb2312")
SP = part([
    ("From", "pm@example.cn"), ("To", "mei@" + D),
    ("Subject", "%s\r\n %s" % (ew(_sp[:5], "GB2312"), ew(_sp[5:], "GB2312"))),
    ("Date", "Wed, 04 Sep 2024 08:00:00 +0800"),
    ("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=us-ascii"),
], "See the subject.\r\n")

# No MIME labels at all: raw GBK bytes in the header and the body (old Chinese clients).
RAW8_SUBJECT = "关于年会的安排"
RAW8_TEXT = "年会定于十二月二十日举行。\r\n"
RAW8 = part([
    ("From", "hr@example.cn"), ("To", "mei@" + D),
    ("Subject", RAW8_SUBJECT.encode("gbk")),
    ("Date", "Thu, 05 Sep 2024 08:00:00 +0800"),
], RAW8_TEXT.encode("gbk"))

# HTML only, in GB18030 with a character outside the BMP (four GB18030 bytes) and a euro sign.
HT_SUBJECT = "关于𠮷野家聚餐的通知€"
HT_HTML = ("<html><head><style>p { color: red }</style></head><body>"
           "<p>周五晚上七点，𠮷野家见。</p><p>请回复&amp;确认</p>"
           "<script>alert(1)</script></body></html>")
HT = part([
    ("From", addr("王芳", "wang.fang@example.test", "GB18030", "Q")),
    ("To", "mei@" + D),
    ("Subject", ew(HT_SUBJECT, "GB18030")),
    ("Date", "Fri, 06 Sep 2024 17:45:00 +0800"),
    ("Message-ID", "<dinner@example.test>"),
    ("MIME-Version", "1.0"),
    ("Content-Type", "text/html; charset=GB18030"),
    ("Content-Transfer-Encoding", "base64"),
], b64(HT_HTML.encode("gb18030")))

B5_SUBJECT = "會議通知：年度預算審查"
B5_TEXT = "請於週五前提交預算。\n"
B5 = part([
    ("From", addr("陳大文", "chan@example.hk", "big5")),
    ("To", "mei@" + D),
    ("Subject", ew(B5_SUBJECT, "big5")),
    ("Date", "Sat, 07 Sep 2024 10:00:00 +0800"),
    ("MIME-Version", "1.0"),
    ("Content-Type", "text/plain; charset=big5"),
    ("Content-Transfer-Encoding", "base64"),
], b64(B5_TEXT.encode("big5")))

# RFC 2231 continuations, an HTML attachment, a Content-Type name in an encoded word.
DOCX_NAME = "项目计划书（第二版）.docx"
DOCX = b"PK\x03\x04" + bytes(random.Random(7).randrange(256) for _ in range(600))
HTML_NAME = "页面.html"
HTML_ATT = "<html><body><script>alert('x')</script><p>页面</p></body></html>"
XLS_NAME = "预算表.xlsx"
XLS = b"PK\x03\x04" + bytes(random.Random(8).randrange(256) for _ in range(300))
SVG_NAME = "图.svg"
SVG = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
_docx = yz.rfc2231(DOCX_NAME)
_cut = _docx.index("%", len(_docx) // 2)
AT = part([
    ("From", "Li Na <li.na@example.test>"), ("To", "mei@" + D),
    ("Subject", "Attachments"), ("Date", "Sun, 08 Sep 2024 10:00:00 +0800"),
    ("MIME-Version", "1.0"), ("Content-Type", "multipart/mixed; boundary=at-boundary"),
], multipart("at-boundary", [
    part([("Content-Type", "text/plain; charset=us-ascii")], "See the attachments.\r\n"),
    part([("Content-Type",
           "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
          ("Content-Disposition", "attachment;\r\n filename*0*=%s;\r\n filename*1*=%s"
           % (_docx[:_cut], _docx[_cut:])),
          ("Content-Transfer-Encoding", "base64")], b64(DOCX)),
    part([("Content-Type", "text/html; charset=utf-8; name*=%s" % yz.rfc2231(HTML_NAME)),
          ("Content-Disposition", "attachment"),
          ("Content-Transfer-Encoding", "base64")], b64(HTML_ATT.encode("utf-8"))),
    part([("Content-Type", 'application/vnd.ms-excel; name="%s"' % ew(XLS_NAME, "GB2312")),
          ("Content-Disposition", "attachment"),
          ("Content-Transfer-Encoding", "base64")], b64(XLS)),
    part([("Content-Type", "image/svg+xml"),
          ("Content-Disposition", "attachment; filename*=" + yz.rfc2231(SVG_NAME)),
          ("Content-Transfer-Encoding", "base64")], b64(SVG.encode("utf-8"))),
]))

# An HTML body with an inline image it refers to by Content-ID.
RL_HTML = '<p>徽标：<img src="cid:logo@example.test"></p>'
RL = part([
    ("From", "design@example.test"), ("To", "mei@" + D), ("Subject", "Logo"),
    ("Date", "Mon, 09 Sep 2024 10:00:00 +0800"), ("MIME-Version", "1.0"),
    ("Content-Type", "multipart/alternative; boundary=alt"),
], multipart("alt", [
    part([("Content-Type", "text/plain; charset=utf-8"),
          ("Content-Transfer-Encoding", "base64")], b64("Logo below.\n".encode())),
    part([("Content-Type", 'multipart/related; boundary=rel; type="text/html"')],
         multipart("rel", [
             part([("Content-Type", "text/html; charset=utf-8"),
                   ("Content-Transfer-Encoding", "base64")], b64(RL_HTML.encode("utf-8"))),
             part([("Content-Type", "image/png"), ("Content-ID", "<logo@example.test>"),
                   ("Content-Disposition", 'inline; filename="logo.png"'),
                   ("Content-Transfer-Encoding", "base64")], b64(PNG)),
         ])),
]))


# ---------------------------------------------------------------------------------------------
# API helpers


def folder_list(tc, s):
    r = s.get("/api/v1/folders")
    tc.assertEqual(r.status, 200, r)
    return r.json()


def folder_by(tc, s, path=None, role=None):
    for f in folder_list(tc, s)["items"]:
        if (path is not None and f["path"] == path) or (role is not None and f["role"] == role):
            return f
    return None


def folder_id(tc, s, path=None, role=None):
    f = folder_by(tc, s, path, role)
    tc.assertIsNotNone(f, "no folder %s" % (path or role))
    return f["id"]


def make_folder(tc, s, name, parent=None):
    body = {"name": name}
    if parent is not None:
        body["parent"] = parent
    r = s.post("/api/v1/folders", body)
    tc.assertEqual(r.status, 201, "create %r: %r" % (name, r))
    return r.json()


def upload(tc, s, folder, raw, content_type="message/rfc822"):
    r = s.req("POST", "/api/v1/folders/%d/messages" % folder,
              headers={"Content-Type": content_type}, body=raw)
    tc.assertEqual(r.status, 201, r)
    j = r.json()
    tc.assertEqual(sorted(j), ["id", "uid"], j)
    return j["id"]


def get_msg(tc, s, mid):
    r = s.get("/api/v1/messages/%d" % mid)
    tc.assertEqual(r.status, 200, r)
    return r.json()


def patch(tc, s, body, status=200):
    r = s.req("PATCH", "/api/v1/messages", body=body)
    tc.assertEqual(r.status, status, "PATCH %r: %r" % (body, r))
    return r


def page_ids(tc, s, query, limit, want_total=None):
    """Walk a listing's cursors: every id in order. Checks page sizes and that `total` and
    `folder` stay the same on every page."""
    ids, cursor, pages, totals = [], None, 0, set()
    while True:
        q = dict(query, limit=limit)
        if cursor:
            q["cursor"] = cursor
        r = s.get("/api/v1/messages?" + urllib.parse.urlencode(q))
        tc.assertEqual(r.status, 200, r)
        j = r.json()
        tc.assertLessEqual(len(j["items"]), limit)
        totals.add(j["total"])
        ids += [it["id"] for it in j["items"]]
        pages += 1
        tc.assertLess(pages, 1000, "paging does not end")
        cursor = j["next"]
        if cursor is None:
            break
        tc.assertEqual(len(j["items"]), limit, "a page before the last is short")
    tc.assertEqual(len(totals), 1, "total changed between pages: %r" % totals)
    if want_total is not None:
        tc.assertEqual(totals.pop(), want_total)
    return ids


def search(tc, s, q, **params):
    params["q"] = q
    r = s.get("/api/v1/search?" + urllib.parse.urlencode(params))
    tc.assertEqual(r.status, 200, "search %r: %r" % (q, r))
    return r.json()


def search_ids(tc, s, q, **params):
    j = search(tc, s, q, **params)
    tc.assertIsNone(j["next"], "search %r: one page expected" % q)
    return [it["id"] for it in j["items"]]


def disposition_filename(tc, value):
    """The RFC 6266 / RFC 8187 filename* of a Content-Disposition value, decoded."""
    m = re.search(r"filename\*\s*=\s*UTF-8''([^;\s]+)", value, re.I)
    tc.assertIsNotNone(m, "no filename*=UTF-8'' in %r" % value)
    enc = m.group(1)
    tc.assertRegex(enc, r"^[A-Za-z0-9!#$&+\-.^_`|~%]+$", "filename* is not an RFC 8187 "
                   "value-chars token: %r" % enc)
    fallback = re.search(r'(?:^|;)\s*filename\s*=\s*"([^"]*)"', value)
    if fallback:
        tc.assertTrue(fallback.group(1).isascii(), value)
    return urllib.parse.unquote(enc, encoding="utf-8", errors="strict")


# ---------------------------------------------------------------------------------------------
# Folders


class Folders(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = signin(FANG)

    def test_standard_folders_of_a_new_mailbox(self):
        s = signin(XIN)
        j = folder_list(self, s)
        self.assertEqual(sorted(j), ["items", "usage"])
        self.assertEqual([f["role"] for f in j["items"]], SPECIAL)
        self.assertEqual([f["name"] for f in j["items"]], SPECIAL_NAMES)
        self.assertEqual([f["path"] for f in j["items"]], SPECIAL_NAMES)
        for f in j["items"]:
            self.assertEqual(sorted(f), ["id", "name", "parent", "path", "role", "size",
                                         "total", "uidnext", "uidvalidity", "unread"], f)
            self.assertIsNone(f["parent"])
            self.assertEqual((f["total"], f["unread"], f["size"], f["uidnext"]), (0, 0, 0, 1),
                             f)
            self.assertGreater(f["uidvalidity"], 0)
        self.assertEqual(len({f["id"] for f in j["items"]}), 6)
        self.assertEqual(len({f["uidvalidity"] for f in j["items"]}), 6,
                         "every folder needs its own UIDVALIDITY")
        self.assertEqual(j["usage"], {"bytes": 0, "messages": 0, "quota": DEFAULT_QUOTA})
        # the listing of an empty Inbox
        r = s.get("/api/v1/messages")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"items": [], "next": None, "total": 0,
                                    "folder": j["items"][0]["id"]})

    def test_create_nested_chinese(self):
        s = self.s
        a = make_folder(self, s, "客户")
        self.assertEqual((a["name"], a["path"], a["parent"], a["role"], a["total"],
                          a["unread"], a["size"], a["uidnext"]),
                         ("客户", "客户", None, None, 0, 0, 0, 1))
        b = make_folder(self, s, "华为", a["id"])
        self.assertEqual((b["name"], b["path"], b["parent"]), ("华为", "客户/华为", a["id"]))
        c = make_folder(self, s, "二〇二四年（第三季度）", b["id"])
        self.assertEqual(c["path"], "客户/华为/二〇二四年（第三季度）")
        got = {f["path"]: f for f in folder_list(self, s)["items"]}
        for f in (a, b, c):
            self.assertEqual(got[f["path"]]["id"], f["id"])
            self.assertEqual(got[f["path"]]["parent"], f["parent"])
        # the specials still come first, in their order
        self.assertEqual([f["role"] for f in folder_list(self, s)["items"]][:6], SPECIAL)
        # the same name under another parent is fine
        d = make_folder(self, s, "华为")
        self.assertEqual((d["path"], d["parent"]), ("华为", None))
        self.assertNotEqual(d["id"], b["id"])

    def test_duplicate_names(self):
        s = self.s
        p = make_folder(self, s, "项目")
        make_folder(self, s, "Projects")
        for name, parent in (("项目", None), ("Projects", None), ("PROJECTS", None),
                             ("projects", None), ("INBOX", None), ("inbox", None),
                             ("Trash", None), ("SENT", None)):
            with self.subTest(name=name):
                body = {"name": name} if parent is None else {"name": name, "parent": parent}
                r = s.post("/api/v1/folders", body)
                yz.assert_error(self, r, 409, "conflict", "duplicate %r" % name)
        make_folder(self, s, "子项目", p["id"])
        r = s.post("/api/v1/folders", {"name": "子项目", "parent": p["id"]})
        yz.assert_error(self, r, 409, "conflict", "duplicate child")
        # a child called INBOX is not the Inbox
        inbox_child = make_folder(self, s, "INBOX", p["id"])
        self.assertEqual(inbox_child["path"], "项目/INBOX")
        self.assertIsNone(inbox_child["role"])
        n = sum(1 for f in folder_list(self, s)["items"] if f["path"] == "项目")
        self.assertEqual(n, 1)

    def test_bad_names(self):
        s = self.s
        before = folder_list(self, s)["items"]
        bad = ["", "a/b", "/", ".", "..", " lead", "trail ", "tab\there", "nl\nx", "\x7f",
               "nul\x00x", "x" * 256, "项" * 86]
        for name in bad:
            with self.subTest(name=name):
                r = s.post("/api/v1/folders", {"name": name})
                yz.assert_error(self, r, 400, "bad_request", "name %r" % name)
        for body in ({"name": 123}, {"name": None}, {}, {"name": ["x"]},
                     {"name": "ok", "parent": "1"}, {"name": "ok", "parent": -1},
                     {"name": "ok", "parent": 1.5}, {"name": "ok", "parent": True}):
            with self.subTest(body=body):
                r = s.post("/api/v1/folders", body)
                yz.assert_error(self, r, 400, "bad_request", "body %r" % (body,))
        r = s.req("POST", "/api/v1/folders", body=b'{"name":', headers={
            "Content-Type": "application/json"})
        yz.assert_error(self, r, 400, "bad_request", "truncated JSON")
        r = s.req("POST", "/api/v1/folders", body=b'["x"]', headers={
            "Content-Type": "application/json"})
        yz.assert_error(self, r, 400, "bad_request", "JSON array")
        r = s.req("POST", "/api/v1/folders", body=b'{"name":"a","name":"b"}', headers={
            "Content-Type": "application/json"})
        yz.assert_error(self, r, 400, "bad_request", "duplicate key")
        r = s.req("POST", "/api/v1/folders", body=b'{"name":"x"}', headers={
            "Content-Type": "text/plain"})
        yz.assert_error(self, r, 415, "unsupported_media_type", "text/plain body")
        r = s.post("/api/v1/folders", {"name": "孤儿", "parent": 999999})
        yz.assert_error(self, r, 404, "not_found", "unknown parent")
        self.assertEqual(folder_list(self, s)["items"], before, "a refused create changed "
                         "the folders")
        # the longest names are fine: 255 bytes of ASCII, 85 three-byte characters
        for name in ("y" * 255, "项" * 85, "名字 with spaces inside"):
            f = make_folder(self, s, name)
            self.assertEqual(f["name"], name)

    def test_depth_limit(self):
        s = self.s
        parent = None
        for depth in range(1, 17):
            f = make_folder(self, s, "层%d" % depth, parent)
            parent = f["id"]
        self.assertEqual(f["path"], "/".join("层%d" % d for d in range(1, 17)))
        r = s.post("/api/v1/folders", {"name": "层17", "parent": parent})
        # nesting too deep is a bad request, not a rate limit (api_folder_create)
        yz.assert_error(self, r, 400, "bad_request", "17th level")

    def test_rename_and_move(self):
        s = self.s
        dept = make_folder(self, s, "部门")
        sales = make_folder(self, s, "销售", dept["id"])
        east = make_folder(self, s, "华东", sales["id"])
        r = s.req("PATCH", "/api/v1/folders/%d" % dept["id"], body={"name": "事业部"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["name"], r.json()["path"]), ("事业部", "事业部"))
        paths = {f["id"]: f["path"] for f in folder_list(self, s)["items"]}
        self.assertEqual(paths[sales["id"]], "事业部/销售")
        self.assertEqual(paths[east["id"]], "事业部/销售/华东")
        # to the top level and back
        r = s.req("PATCH", "/api/v1/folders/%d" % sales["id"], body={"parent": None})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["path"], r.json()["parent"]), ("销售", None))
        self.assertEqual(folder_by(self, s, path="销售/华东")["id"], east["id"])
        r = s.req("PATCH", "/api/v1/folders/%d" % sales["id"],
                  body={"parent": dept["id"], "name": "销售部"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["path"], r.json()["parent"]), ("事业部/销售部", dept["id"]))
        # not into itself or its own subtree
        for target in (dept["id"], east["id"]):
            r = s.req("PATCH", "/api/v1/folders/%d" % dept["id"], body={"parent": target})
            yz.assert_error(self, r, 400, "bad_request", "move under itself")
        # not onto a sibling's name
        make_folder(self, s, "市场", dept["id"])
        r = s.req("PATCH", "/api/v1/folders/%d" % sales["id"], body={"name": "市场"})
        yz.assert_error(self, r, 409, "conflict", "rename onto a sibling")
        # special folders stay where and what they are
        inbox = folder_id(self, s, role="inbox")
        trash = folder_id(self, s, role="trash")
        for body in ({"name": "收件箱"}, {"parent": dept["id"]}):
            r = s.req("PATCH", "/api/v1/folders/%d" % inbox, body=body)
            yz.assert_error(self, r, 403, "forbidden", "change INBOX %r" % body)
        r = s.req("PATCH", "/api/v1/folders/%d" % sales["id"], body={"parent": trash})
        self.assertEqual(r.status, 200, "a custom folder may live under Trash: %r" % (r,))
        r = s.req("PATCH", "/api/v1/folders/%d" % sales["id"], body={"parent": dept["id"]})
        self.assertEqual(r.status, 200, r)
        for body, status, code in (({}, 400, "bad_request"), ({"name": "a/b"}, 400,
                                                              "bad_request"),
                                   ({"name": 5}, 400, "bad_request"),
                                   ({"parent": 999999}, 404, "not_found")):
            with self.subTest(body=body):
                r = s.req("PATCH", "/api/v1/folders/%d" % sales["id"], body=body)
                yz.assert_error(self, r, status, code, "PATCH %r" % (body,))
        for fid in ("999999", "abc", "0"):
            r = s.req("PATCH", "/api/v1/folders/" + fid, body={"name": "x"})
            yz.assert_error(self, r, 404, "not_found", "PATCH folder " + fid)
        self.assertEqual(folder_by(self, s, path="事业部/销售部/华东")["id"], east["id"])

    def test_counts_and_delete_to_trash(self):
        s = self.s
        tmp = make_folder(self, s, "临时")
        sub = make_folder(self, s, "子目录", tmp["id"])
        raws = [text_mail("临时 %d" % i, "a@example.cn", "Mon, 01 Jul 2024 0%d:00:00 +0800" % i,
                          "正文 %d\n" % i) for i in range(3)]
        ids = [upload(self, s, tmp["id"], raws[0]), upload(self, s, tmp["id"], raws[1]),
               upload(self, s, sub["id"], raws[2])]
        patch(self, s, {"ids": [ids[0]], "seen": True})
        f = folder_by(self, s, path="临时")
        self.assertEqual((f["total"], f["unread"], f["size"], f["uidnext"]),
                         (2, 1, len(raws[0]) + len(raws[1]), 3))
        f = folder_by(self, s, path="临时/子目录")
        self.assertEqual((f["total"], f["unread"], f["size"]), (1, 1, len(raws[2])))
        before = folder_list(self, s)
        trash_before = folder_by(self, s, role="trash")
        r = s.delete("/api/v1/folders/%d" % tmp["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"ok": True})
        after = folder_list(self, s)
        paths = [f["path"] for f in after["items"]]
        self.assertNotIn("临时", paths)
        self.assertNotIn("临时/子目录", paths)
        trash = folder_by(self, s, role="trash")
        self.assertEqual(trash["total"], trash_before["total"] + 3)
        self.assertEqual(trash["unread"], trash_before["unread"] + 2)
        self.assertEqual(trash["size"], trash_before["size"] + sum(map(len, raws)))
        self.assertEqual(after["usage"]["messages"], before["usage"]["messages"],
                         "mail in Trash still counts")
        self.assertEqual(after["usage"]["bytes"], before["usage"]["bytes"])
        for mid, raw in zip(ids, raws):
            m = get_msg(self, s, mid)
            self.assertEqual(m["folder"], trash["id"])
            self.assertEqual(s.get("/api/v1/messages/%d/raw" % mid).body, raw)
        listed = page_ids(self, s, {"folder": trash["id"]}, 50)
        self.assertEqual(sorted(set(listed) & set(ids)), sorted(ids))
        # their folders are gone: restoring takes them to the Inbox
        r = patch(self, s, {"ids": ids, "restore": True})
        self.assertEqual(r.json(), {"ok": True, "count": 3, "copies": None})
        inbox = folder_id(self, s, role="inbox")
        for mid in ids:
            self.assertEqual(get_msg(self, s, mid)["folder"], inbox)
        for fid in (tmp["id"], sub["id"]):
            r = s.get("/api/v1/messages?folder=%d" % fid)
            yz.assert_error(self, r, 404, "not_found", "listing a deleted folder")

    def test_delete_refused(self):
        s = self.s
        for role in SPECIAL:
            fid = folder_id(self, s, role=role)
            r = s.delete("/api/v1/folders/%d" % fid)
            yz.assert_error(self, r, 403, "forbidden", "delete " + role)
        for fid in ("999999", "abc"):
            r = s.delete("/api/v1/folders/" + fid)
            yz.assert_error(self, r, 404, "not_found", "delete folder " + fid)
        self.assertEqual([f["role"] for f in folder_list(self, s)["items"]][:6], SPECIAL)


# ---------------------------------------------------------------------------------------------
# Message content


class Content(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = signin(MEI)
        cls.inbox = folder_id(CHK, cls.s, role="inbox")

    def put(self, raw):
        mid = upload(self, self.s, self.inbox, raw)
        r = self.s.get("/api/v1/messages/%d/raw" % mid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, raw, "/raw is not the uploaded bytes")
        self.assertEqual(r.headers.get("content-type", "").split(";")[0], "message/rfc822")
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        self.assertTrue(r.headers.get("content-disposition", "").startswith("attachment"), r)
        return mid, get_msg(self, self.s, mid)

    def part(self, mid, section, query=""):
        return self.s.get("/api/v1/messages/%d/parts/%s%s" % (mid, section, query))

    def assert_download(self, r, body, ctype, filename, disposition="attachment"):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, body)
        self.assertEqual(r.headers.get("content-type"), ctype)
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        cd = r.headers.get("content-disposition", "")
        self.assertEqual(cd.split(";")[0].strip(), disposition, cd)
        self.assertEqual(disposition_filename(self, cd), filename)
        self.assertNotIn("text/html", r.headers.get("content-type", ""))

    def test_gb2312_multipart_with_attachments(self):
        mid, m = self.put(Q3)
        self.assertEqual(m["subject"], Q3_SUBJECT)
        self.assertEqual(m["from"], {"name": "张伟", "address": "zhang.wei@example.cn"})
        self.assertEqual(m["from_all"], [{"name": "张伟", "address": "zhang.wei@example.cn"}])
        self.assertEqual(m["to"], [{"name": "李娜", "address": "li.na@example.test"},
                                   {"name": "Wang Fang", "address": "wang.fang@example.test"}])
        self.assertEqual(m["cc"], [{"name": "财务部", "address": "finance@example.cn"}])
        self.assertEqual((m["bcc"], m["reply_to"]), ([], []))
        self.assertEqual(m["text"], Q3_TEXT)
        self.assertIsNone(m["html"])
        self.assertEqual(m["message_id"], "q3-2024@example.cn")
        self.assertEqual((m["in_reply_to"], m["references"]), ("", []))
        self.assertEqual(m["sent_date"], "2024-10-15T01:30:00Z")
        self.assertEqual(m["date"], "2024-10-15T01:30:00Z", "arrival = the Date header")
        self.assertEqual(m["size"], len(Q3))
        self.assertEqual((m["flags"], m["keywords"], m["colour"], m["pinned"], m["has_note"],
                          m["note"]), ([], [], None, False, False, ""))
        self.assertTrue(m["has_attachments"])
        self.assertEqual(m["snippet"], " ".join(Q3_TEXT.split()))
        self.assertEqual(m["attachments"], [
            {"part": "2", "name": "季度报告.pdf", "type": "application/pdf", "size": len(PDF),
             "inline": False, "content_id": ""},
            {"part": "3", "name": "说明.txt", "type": "text/plain",
             "size": len(Q3_NOTE.encode("gb2312")), "inline": False, "content_id": ""}])
        self.assertEqual(m["folder"], self.inbox)
        self.assertEqual(m["thread"] > 0, True)
        # the list item is the same object minus the details
        listed = [it for it in self.s.get("/api/v1/messages?limit=500").json()["items"]
                  if it["id"] == mid]
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0], {k: m[k] for k in listed[0]})
        self.assertEqual(sorted(listed[0]), sorted([
            "id", "folder", "uid", "subject", "from", "to", "cc", "date", "size", "flags",
            "keywords", "colour", "pinned", "has_note", "has_attachments", "snippet",
            "thread"]))
        # the PDF: exact bytes, a preview type, downloaded unless ?inline=1
        self.assert_download(self.part(mid, "2"), PDF, "application/pdf", "季度报告.pdf")
        self.assert_download(self.part(mid, "2", "?inline=1"), PDF, "application/pdf",
                             "季度报告.pdf", "inline")
        # the GB2312 text attachment comes as UTF-8 text
        self.assert_download(self.part(mid, "3"), Q3_NOTE.encode("utf-8"),
                             "text/plain; charset=utf-8", "说明.txt")
        self.assert_download(self.part(mid, "3", "?inline=1"), Q3_NOTE.encode("utf-8"),
                             "text/plain; charset=utf-8", "说明.txt")
        # the body part too
        r = self.part(mid, "1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, Q3_TEXT.encode("utf-8"))
        for bad in ("4", "0", "2.1", "1.1", "x", "-1"):
            r = self.part(mid, bad)
            yz.assert_error(self, r, 404, "not_found", "part " + bad)
        r = self.s.get("/api/v1/messages/%d/raw" % mid)
        self.assertEqual(disposition_filename(self, r.headers["content-disposition"]),
                         Q3_SUBJECT + ".eml")

    def test_gbk_under_gb2312_label(self):
        mid, m = self.put(GK)
        self.assertEqual(m["subject"], GK_SUBJECT)
        self.assertEqual(m["from"], {"name": "编辑部", "address": "editor@example.cn"})
        self.assertEqual(m["text"], GK_TEXT)
        self.assertEqual((m["attachments"], m["has_attachments"]), ([], False))

    def test_encoded_word_split_inside_a_character(self):
        mid, m = self.put(SP)
        self.assertEqual(m["subject"], SP_SUBJECT)
        self.assertEqual(m["from"], {"name": "", "address": "pm@example.cn"})

    def test_unlabelled_8bit_gbk(self):
        mid, m = self.put(RAW8)
        self.assertEqual(m["subject"], RAW8_SUBJECT)
        self.assertEqual(m["text"].replace("\r\n", "\n"), RAW8_TEXT.replace("\r\n", "\n"))

    def test_gb18030_html_only(self):
        mid, m = self.put(HT)
        self.assertEqual(m["subject"], HT_SUBJECT)
        self.assertEqual(m["from"], {"name": "王芳", "address": "wang.fang@example.test"})
        self.assertEqual(m["html"], HT_HTML, "the HTML body, decoded, unsanitised")
        self.assertEqual(" ".join(m["text"].split()), "周五晚上七点，𠮷野家见。 请回复&确认",
                         "text from HTML: tags, <style> and <script> gone, entities decoded")
        self.assertEqual((m["attachments"], m["has_attachments"]), ([], False))
        self.assertEqual(m["snippet"], "周五晚上七点，𠮷野家见。 请回复&确认")
        # part 1 of a single-part message is its body (RFC 3501 6.4.5); HTML is never served
        # as HTML from our origin
        r = self.part(mid, "1")
        self.assert_download(r, HT_HTML.encode("gb18030"), "application/octet-stream",
                             "part-1.html")
        r = self.part(mid, "1", "?inline=1")
        self.assert_download(r, HT_HTML.encode("gb18030"), "application/octet-stream",
                             "part-1.html")

    def test_single_part_attachment(self):
        # the whole message is one PDF: its part 1 is the attachment (RFC 3501 6.4.5)
        raw = part([("From", "scanner@example.cn"), ("To", "mei@" + D), ("Subject", "扫描件"),
                    ("Date", "Tue, 10 Sep 2024 09:00:00 +0800"), ("MIME-Version", "1.0"),
                    ("Content-Type", "application/pdf"),
                    ("Content-Disposition", "attachment; filename*=" + yz.rfc2231("扫描件.pdf")),
                    ("Content-Transfer-Encoding", "base64")], b64(PDF))
        mid, m = self.put(raw)
        self.assertTrue(m["has_attachments"])
        self.assertEqual(m["text"], "")
        self.assertEqual(m["attachments"], [
            {"part": "1", "name": "扫描件.pdf", "type": "application/pdf", "size": len(PDF),
             "inline": False, "content_id": ""}])
        self.assert_download(self.part(mid, "1"), PDF, "application/pdf", "扫描件.pdf")

    def test_big5(self):
        mid, m = self.put(B5)
        self.assertEqual(m["subject"], B5_SUBJECT)
        self.assertEqual(m["from"], {"name": "陳大文", "address": "chan@example.hk"})
        self.assertEqual(m["text"], B5_TEXT)

    def test_rfc2231_names_and_html_attachment(self):
        mid, m = self.put(AT)
        self.assertEqual(m["text"], "See the attachments.\n")
        self.assertEqual(m["attachments"], [
            {"part": "2", "name": DOCX_NAME,
             "type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "size": len(DOCX), "inline": False, "content_id": ""},
            {"part": "3", "name": HTML_NAME, "type": "text/html",
             "size": len(HTML_ATT.encode("utf-8")), "inline": False, "content_id": ""},
            {"part": "4", "name": XLS_NAME, "type": "application/vnd.ms-excel",
             "size": len(XLS), "inline": False, "content_id": ""},
            {"part": "5", "name": SVG_NAME, "type": "image/svg+xml",
             "size": len(SVG), "inline": False, "content_id": ""}])
        self.assert_download(self.part(mid, "2"), DOCX, "application/octet-stream", DOCX_NAME)
        self.assert_download(self.part(mid, "2", "?inline=1"), DOCX,
                             "application/octet-stream", DOCX_NAME)
        for q in ("", "?inline=1"):
            self.assert_download(self.part(mid, "3", q), HTML_ATT.encode("utf-8"),
                                 "application/octet-stream", HTML_NAME)
        self.assert_download(self.part(mid, "4"), XLS, "application/octet-stream", XLS_NAME)
        for q in ("", "?inline=1"):  # an image that runs script is no preview
            self.assert_download(self.part(mid, "5", q), SVG.encode("utf-8"),
                                 "application/octet-stream", SVG_NAME)

    def test_inline_image(self):
        mid, m = self.put(RL)
        self.assertEqual(m["text"], "Logo below.\n")
        self.assertEqual(m["html"], RL_HTML)
        self.assertFalse(m["has_attachments"], "an image the HTML shows is no attachment")
        self.assertEqual(m["attachments"], [
            {"part": "2.2", "name": "logo.png", "type": "image/png", "size": len(PNG),
             "inline": True, "content_id": "logo@example.test"}])
        self.assert_download(self.part(mid, "2.2", "?inline=1"), PNG, "image/png", "logo.png",
                             "inline")
        self.assert_download(self.part(mid, "2.2"), PNG, "image/png", "logo.png")
        r = self.part(mid, "2")
        yz.assert_error(self, r, 404, "not_found", "a multipart is not a download")
        self.assert_download(self.part(mid, "2.1"), RL_HTML.encode("utf-8"),
                             "application/octet-stream", "part-2.1.html")

    def test_octet_stream_upload(self):
        raw = text_mail("octet", "x@example.test", "Tue, 10 Sep 2024 10:00:00 +0800", "x\n")
        mid = upload(self, self.s, self.inbox, raw, "application/octet-stream")
        self.assertEqual(self.s.get("/api/v1/messages/%d/raw" % mid).body, raw)

    def test_corpus_messages(self):
        # (subject, (from name, address), text with LF line ends or None, attachments); read
        # with Python's email package (policy.default) and checked by hand where it errs (raw
        # UTF-8 addresses, an unlabelled UTF-8 body)
        for rel, (subject, sender, text, atts) in CORPUS_EXPECT.items():
            with self.subTest(file=rel):
                with open(os.path.join(CORPUS, rel), "rb") as f:
                    raw = f.read()
                mid, m = self.put(raw)
                self.assertEqual(m["subject"], subject)
                self.assertEqual(m["from"], {"name": sender[0], "address": sender[1]})
                if text is not None:
                    self.assertEqual(m["text"].replace("\r\n", "\n"), text)
                got = [(a["name"], a["type"], a["size"]) for a in m["attachments"]
                       if not a["inline"]]
                self.assertEqual(got, atts)
                self.assertEqual(m["has_attachments"], bool(atts))
                self.assertEqual(m["size"], len(raw))


CORPUS_EXPECT = {
    "flanker/bilingual-simple.eml": (
        "Simple text. How are you? Как ты поживаешь?", ("Hello", "hello@example.com"),
        "This line is in English\nА эта линия по-русски.\n\n\n\n      \n", []),
    "mikel-mail/attachment_emails/attachment_with_quoted_filename.eml": (
        "Eelanalüüsi päring", ("Jeffrey Hardy", "jeff@37signals.com"), None,
        [("Eelanalüüsi päring.jpg", "image/jpeg", 1952)]),
    "mikel-mail/multi_charset/japanese_iso_2022.eml": (
        "まみむめも", ("Mikel Lindsaar", "raasdnil@gmail.com"), "すみません。\n\n", []),
    "mikel-mail/multi_charset/japanese_attachment_long_name.eml": (
        "まみむめも" * 10, ("Mikel Lindsaar", "mikel@test.lindsaar.net"), None,
        [("かきくけこ" * 5 + ".txt", "text/plain", 18)]),
    "enmime/testdata/mail/qp-utf8-header.raw": (
        "MIME UTF8 Test ¢ More Text", ("James Hillyerd", "jamehi03@jamehi03lx.noa.com"),
        None, []),
    "mikel-mail/rfc6532/utf8_headers.eml": (
        "Säying Hello", ("Jöhn Doe", "jdöe@mächine.example"), "body\n", []),
    "stalwart/thirdparty/010.eml": ("こんにちは", ("", ""), "人権の無視及", []),
}


# ---------------------------------------------------------------------------------------------
# Paging, sorting, filters


def page_mail(i, base=1704067200):
    """Message i of the paging set: every date twice, sizes, senders and subjects shuffled
    against the dates."""
    date = base + ((i * 7) % 60) * 3600
    subject = ("Re: " if i % 9 == 0 else "") + "Item %03d" % ((i * 37) % 120)
    sender = "User %02d" % ((i * 11) % 17)
    body = "message %d\n%s\n" % (i, "x" * ((i * 53) % 400))
    hdr = [("From", '"%s" <u%02d@example.test>' % (sender, (i * 11) % 17)),
           ("To", "pei@" + D), ("Subject", subject),
           ("Date", email.utils.formatdate(date)), ("Message-ID", "<page-%d@example.test>" % i),
           ("MIME-Version", "1.0")]
    if i % 10 == 3:
        raw = part(hdr + [("Content-Type", "multipart/mixed; boundary=pg")], multipart("pg", [
            part([("Content-Type", "text/plain")], body),
            part([("Content-Type", "application/octet-stream"),
                  ("Content-Disposition", 'attachment; filename="f%d.bin"' % i),
                  ("Content-Transfer-Encoding", "base64")], b64(bytes([i]) * 40))]))
    else:
        raw = part(hdr + [("Content-Type", "text/plain")], body)
    key_subject = subject[4:].lower() if subject.startswith("Re: ") else subject.lower()
    return raw, {"date": date, "subject": key_subject, "from": sender.lower(),
                 "attach": i % 10 == 3}


class Paging(unittest.TestCase):
    N = 120
    PINNED = (5, 17, 42, 88, 119)
    SEEN = tuple(range(0, 120, 4))
    FLAGGED = (2, 40, 77)
    COLOURS = {10: "blue", 11: "blue", 12: 6, 13: "红"}

    @classmethod
    def setUpClass(cls):
        cls.s = signin(PEI)
        r = cls.s.post("/api/v1/folders", {"name": "分页测试"})
        assert r.status == 201, r
        cls.folder = r.json()["id"]
        cls.ids, cls.props = [], {}
        for i in range(cls.N):
            raw, props = page_mail(i)
            r = cls.s.req("POST", "/api/v1/folders/%d/messages" % cls.folder,
                          headers={"Content-Type": "message/rfc822"}, body=raw)
            assert r.status == 201, r
            mid = r.json()["id"]
            props.update(size=len(raw), id=mid, pinned=i in cls.PINNED)
            cls.ids.append(mid)
            cls.props[mid] = props
        cls.idx = {mid: i for i, mid in enumerate(cls.ids)}

        def pa(body):
            r = cls.s.req("PATCH", "/api/v1/messages", body=body)
            assert r.status == 200, r

        pa({"ids": [cls.ids[i] for i in cls.PINNED], "pinned": True})
        pa({"ids": [cls.ids[i] for i in cls.SEEN], "seen": True})
        pa({"ids": [cls.ids[i] for i in cls.FLAGGED], "flagged": True})
        for i, c in cls.COLOURS.items():
            pa({"ids": [cls.ids[i]], "colour": c})

    def expect(self, key, reverse, ids=None):
        ids = list(self.ids if ids is None else ids)
        return sorted(ids, key=lambda m: key(self.props[m]), reverse=reverse)

    def by_date(self, asc):
        # pinned first whichever way the dates run; ties by id in the same direction
        pinned = [m for m in self.ids if self.props[m]["pinned"]]
        rest = [m for m in self.ids if not self.props[m]["pinned"]]
        k = lambda p: (p["date"], p["id"])
        return self.expect(k, not asc, pinned) + self.expect(k, not asc, rest)

    def test_folder_counts(self):
        f = folder_by(self, self.s, path="分页测试")
        self.assertEqual((f["total"], f["unread"]), (120, 120 - len(self.SEEN)))
        self.assertEqual(f["size"], sum(p["size"] for p in self.props.values()))
        self.assertEqual(f["uidnext"], 121)

    def test_date_newest_first(self):
        got = page_ids(self, self.s, {"folder": self.folder}, 7, 120)
        self.assertEqual(len(got), len(set(got)), "an id came twice")
        self.assertEqual(got, self.by_date(asc=False))
        self.assertEqual(got[:5], sorted((self.ids[i] for i in self.PINNED),
                                         key=lambda m: (self.props[m]["date"], m),
                                         reverse=True))
        # the same as one big page, and as the explicit sort=date&order=desc
        self.assertEqual(page_ids(self, self.s, {"folder": self.folder}, 500), got)
        self.assertEqual(page_ids(self, self.s, {"folder": self.folder, "sort": "date",
                                                 "order": "desc"}, 50), got)

    def test_date_oldest_first(self):
        got = page_ids(self, self.s, {"folder": self.folder, "order": "asc"}, 13, 120)
        self.assertEqual(got, self.by_date(asc=True))

    def test_page_items(self):
        r = self.s.get("/api/v1/messages?folder=%d&limit=3" % self.folder)
        j = r.json()
        self.assertEqual(sorted(j), ["folder", "items", "next", "total"])
        self.assertEqual((j["folder"], j["total"], len(j["items"])), (self.folder, 120, 3))
        self.assertIsInstance(j["next"], str)
        first = j["items"][0]
        i = self.idx[first["id"]]
        self.assertTrue(first["pinned"])
        self.assertEqual(first["date"], time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                      time.gmtime(self.props[first["id"]]
                                                                  ["date"])))
        self.assertEqual(first["from"], {"name": "User %02d" % ((i * 11) % 17),
                                         "address": "u%02d@example.test" % ((i * 11) % 17)})
        self.assertEqual(first["size"], self.props[first["id"]]["size"])

    def test_sort_size(self):
        k = lambda p: (p["size"], p["id"])
        self.assertEqual(page_ids(self, self.s, {"folder": self.folder, "sort": "size"}, 11),
                         self.expect(k, True), "size: biggest first by default")
        self.assertEqual(page_ids(self, self.s, {"folder": self.folder, "sort": "size",
                                                 "order": "asc"}, 11), self.expect(k, False))

    def test_sort_subject(self):
        k = lambda p: (p["subject"].encode(), p["id"])
        self.assertEqual(page_ids(self, self.s, {"folder": self.folder, "sort": "subject"},
                                  9), self.expect(k, False),
                         "subject: A to Z, reply prefixes ignored")
        self.assertEqual(page_ids(self, self.s, {"folder": self.folder, "sort": "subject",
                                                 "order": "desc"}, 9), self.expect(k, True))

    def test_sort_from(self):
        k = lambda p: (p["from"].encode(), p["id"])
        self.assertEqual(page_ids(self, self.s, {"folder": self.folder, "sort": "from"}, 8),
                         self.expect(k, False))
        self.assertEqual(page_ids(self, self.s, {"folder": self.folder, "sort": "from",
                                                 "order": "desc"}, 8), self.expect(k, True))

    def test_filters(self):
        order = self.by_date(asc=False)

        def sel(idxs):
            idxs = set(idxs)
            return [m for m in order if self.idx[m] in idxs]

        cases = {
            "unread": sel(set(range(120)) - set(self.SEEN)),
            "pinned": sel(self.PINNED),
            "flagged": sel(self.FLAGGED),
            "attachments": sel(i for i in range(120) if i % 10 == 3),
            "colour": sel(self.COLOURS),
            "colour:blue": sel((10, 11)),
            "colour:3": [],
            "colour:6": sel((12,)),
            "colour:purple": sel((12,)),
            "colour:1": sel((13,)),
            "colour:红": sel((13,)),
            "colour:grey": [],
        }
        for f, want in cases.items():
            with self.subTest(filter=f):
                got = page_ids(self, self.s, {"folder": self.folder, "filter": f}, 6,
                               len(want))
                self.assertEqual(got, want)
        for item in self.s.get("/api/v1/messages?folder=%d&filter=colour&limit=10" %
                               self.folder).json()["items"]:
            self.assertEqual(item["colour"], {10: "blue", 11: "blue", 12: "purple",
                                              13: "red"}[self.idx[item["id"]]])
        # a filter with another sort
        want = self.expect(lambda p: (p["size"], p["id"]), True,
                           [m for m in self.ids if self.idx[m] not in self.SEEN])
        self.assertEqual(page_ids(self, self.s, {"folder": self.folder, "filter": "unread",
                                                 "sort": "size"}, 16, 90), want)

    def test_cursor_of_another_sort(self):
        j = self.s.get("/api/v1/messages?folder=%d&limit=5" % self.folder).json()
        for q in ("sort=size", "sort=subject", "sort=from"):
            r = self.s.get("/api/v1/messages?folder=%d&limit=5&%s&cursor=%s" % (
                self.folder, q, j["next"]))
            yz.assert_error(self, r, 400, "bad_request", "date cursor with " + q)

    def test_bad_listing_requests(self):
        f = self.folder
        cases = ["folder=abc", "folder=0", "folder=-1", "limit=0", "limit=501", "limit=abc",
                 "limit=-5", "sort=name", "order=up", "filter=bogus", "filter=colour:pink",
                 "filter=colour:0", "filter=colour:8", "cursor=zz", "cursor=abc",
                 "cursor=" + "7c" * 3, "cursor=" + "64" * 2 + "7c7c31",
                 "cursor=" + "00" * 10]
        for q in cases:
            with self.subTest(q=q):
                path = "/api/v1/messages?%s" % q
                if not q.startswith("folder="):
                    path += "&folder=%d" % f
                yz.assert_error(self, self.s.get(path), 400, "bad_request", q)
        yz.assert_error(self, self.s.get("/api/v1/messages?folder=999999"), 404, "not_found",
                        "unknown folder")

    def test_default_folder_is_inbox(self):
        inbox = folder_id(self, self.s, role="inbox")
        r = self.s.get("/api/v1/messages")
        self.assertEqual(r.json(), {"items": [], "next": None, "total": 0, "folder": inbox})


# ---------------------------------------------------------------------------------------------
# Batch changes, Trash


class Changes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = signin(CHEN)
        cls.n = 0

    def fresh(self, count, name=None):
        """A new folder with `count` new messages; (folder id, [ids], [raws])."""
        Changes.n += 1
        f = make_folder(self, self.s, name or "变更%d" % Changes.n)
        raws = [text_mail("测试邮件 %d-%d" % (Changes.n, i), "li.na@example.test",
                          "Mon, 0%d Jul 2024 10:00:00 +0800" % (i + 1), "内容 %d\n" % i)
                for i in range(count)]
        return f["id"], [upload(self, self.s, f["id"], r) for r in raws], raws

    def counts(self, fid):
        f = [x for x in folder_list(self, self.s)["items"] if x["id"] == fid][0]
        return f["total"], f["unread"]

    def test_seen_and_unread_counts(self):
        fid, ids, _ = self.fresh(4)
        self.assertEqual(self.counts(fid), (4, 4))
        r = patch(self, self.s, {"ids": ids[:3], "seen": True})
        self.assertEqual(r.json(), {"ok": True, "count": 3, "copies": None})
        self.assertEqual(self.counts(fid), (4, 1))
        self.assertEqual(get_msg(self, self.s, ids[0])["flags"], ["seen"])
        patch(self, self.s, {"ids": ids[:3], "seen": True})  # again: no double counting
        self.assertEqual(self.counts(fid), (4, 1))
        patch(self, self.s, {"ids": [ids[1]], "seen": False, "flagged": True,
                             "answered": True})
        self.assertEqual(self.counts(fid), (4, 2))
        self.assertEqual(get_msg(self, self.s, ids[1])["flags"], ["answered", "flagged"])
        patch(self, self.s, {"ids": [ids[1]], "flagged": False, "draft": True,
                             "deleted": True})
        self.assertEqual(get_msg(self, self.s, ids[1])["flags"], ["answered", "deleted",
                                                                  "draft"])
        # all or nothing: one unknown id changes none
        r = self.s.req("PATCH", "/api/v1/messages", body={"ids": [ids[3], 999999],
                                                           "seen": True})
        yz.assert_error(self, r, 404, "not_found", "unknown id in a batch")
        self.assertEqual(self.counts(fid), (4, 2))
        self.assertEqual(get_msg(self, self.s, ids[3])["flags"], [])
        # ids in the query string work as well
        r = self.s.req("PATCH", "/api/v1/messages?ids=%d,%d" % (ids[2], ids[3]),
                       body={"seen": False})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.counts(fid), (4, 3))
        self.assertEqual([get_msg(self, self.s, m)["flags"] for m in ids],
                         [["seen"], ["answered", "deleted", "draft"], [], []])

    def test_colour(self):
        fid, ids, _ = self.fresh(1)
        mid = ids[0]
        for value, want in (("blue", "blue"), (6, "purple"), ("灰", "grey"), ("gray", "grey"),
                            (1, "red"), ("绿", "green"), (None, None),
                            ("orange", "orange"), (0, None), ("7", "grey"),
                            ("yellow", "yellow")):
            with self.subTest(colour=value):
                r = self.s.req("PATCH", "/api/v1/messages", body={"ids": [mid],
                                                                   "colour": value})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(get_msg(self, self.s, mid)["colour"], want)
        for bad in ("pink", 8, -1, "", 2.5, True, ["red"], {"x": 1}):
            with self.subTest(bad=bad):
                r = self.s.req("PATCH", "/api/v1/messages", body={"ids": [mid], "colour": bad})
                yz.assert_error(self, r, 400, "bad_request", "colour %r" % (bad,))
        self.assertEqual(get_msg(self, self.s, mid)["colour"], "yellow")

    def test_note(self):
        fid, ids, _ = self.fresh(2)
        note = "记得周五前回复客户：报价单 v2 ✓"
        patch(self, self.s, {"ids": ids, "note": note})
        for mid in ids:
            m = get_msg(self, self.s, mid)
            self.assertEqual((m["note"], m["has_note"]), (note, True))
        item = [it for it in self.s.get("/api/v1/messages?folder=%d" % fid).json()["items"]
                if it["id"] == ids[0]][0]
        self.assertTrue(item["has_note"])
        self.assertNotIn("note", item, "the list carries has_note, not the note")
        patch(self, self.s, {"ids": [ids[0]], "note": None})
        m = get_msg(self, self.s, ids[0])
        self.assertEqual((m["note"], m["has_note"]), ("", False))
        patch(self, self.s, {"ids": [ids[1]], "note": ""})
        self.assertEqual(get_msg(self, self.s, ids[1])["has_note"], False)
        long_ok = "注" * 2730  # 8190 bytes
        patch(self, self.s, {"ids": [ids[1]], "note": long_ok})
        self.assertEqual(get_msg(self, self.s, ids[1])["note"], long_ok)
        for bad in ("x" * 8193, 5, ["note"]):
            r = self.s.req("PATCH", "/api/v1/messages", body={"ids": [ids[1]], "note": bad})
            yz.assert_error(self, r, 400, "bad_request", "note %r" % (bad[:10] if isinstance(
                bad, str) else bad,))
        self.assertEqual(get_msg(self, self.s, ids[1])["note"], long_ok)

    def test_keywords(self):
        fid, ids, _ = self.fresh(1)
        mid = ids[0]
        patch(self, self.s, {"ids": [mid], "keywords_add": ["$Important", "work", "Q3"]})
        self.assertEqual(get_msg(self, self.s, mid)["keywords"], ["$Important", "work", "Q3"])
        patch(self, self.s, {"ids": [mid], "keywords_add": ["WORK", "$label1"],
                             "keywords_remove": ["q3"]})
        self.assertEqual(get_msg(self, self.s, mid)["keywords"], ["$Important", "work",
                                                                  "$label1"])
        patch(self, self.s, {"ids": [mid], "keywords_remove": ["work", "absent"]})
        self.assertEqual(get_msg(self, self.s, mid)["keywords"], ["$Important", "$label1"])
        for bad in (["two words"], ["项目"], ["\\Seen"], ["a(b"], "work", [5], ["x" * 65]):
            with self.subTest(bad=bad):
                r = self.s.req("PATCH", "/api/v1/messages", body={"ids": [mid],
                                                                   "keywords_add": bad})
                yz.assert_error(self, r, 400, "bad_request", "keyword %r" % (bad,))
        self.assertEqual(get_msg(self, self.s, mid)["keywords"], ["$Important", "$label1"])

    def test_pin(self):
        fid, ids, _ = self.fresh(3)
        patch(self, self.s, {"ids": [ids[0]], "pinned": True})
        j = self.s.get("/api/v1/messages?folder=%d" % fid).json()
        self.assertEqual([it["id"] for it in j["items"]], [ids[0], ids[2], ids[1]])
        self.assertEqual([it["pinned"] for it in j["items"]], [True, False, False])
        patch(self, self.s, {"ids": [ids[0]], "pinned": False})
        j = self.s.get("/api/v1/messages?folder=%d" % fid).json()
        self.assertEqual([it["id"] for it in j["items"]], [ids[2], ids[1], ids[0]])

    def test_move_and_copy(self):
        src, ids, raws = self.fresh(3)
        dst, _, _ = self.fresh(0)
        uid_before = get_msg(self, self.s, ids[0])["uid"]
        r = patch(self, self.s, {"ids": ids[:2], "move": dst})
        self.assertEqual(r.json(), {"ok": True, "count": 2, "copies": None})
        self.assertEqual(self.counts(src), (1, 1))
        self.assertEqual(self.counts(dst), (2, 2))
        moved = get_msg(self, self.s, ids[0])
        self.assertEqual(moved["folder"], dst)
        self.assertEqual(moved["uid"], 1, "a moved message gets a UID of its new folder")
        self.assertNotEqual((moved["folder"], moved["uid"]), (src, uid_before))
        self.assertEqual(self.s.get("/api/v1/messages/%d/raw" % ids[0]).body, raws[0])
        # copy: new ids, the originals stay
        patch(self, self.s, {"ids": [ids[2]], "seen": True, "note": "抄送", "colour": "green"})
        r = patch(self, self.s, {"ids": [ids[2]], "copy": dst})
        j = r.json()
        self.assertEqual((j["ok"], j["count"]), (True, 1))
        self.assertEqual(len(j["copies"]), 1)
        cid = j["copies"][0]
        self.assertNotIn(cid, ids)
        c = get_msg(self, self.s, cid)
        o = get_msg(self, self.s, ids[2])
        self.assertEqual((c["folder"], o["folder"]), (dst, src))
        self.assertEqual((c["subject"], c["flags"], c["note"], c["colour"], c["thread"]),
                         (o["subject"], o["flags"], o["note"], o["colour"], o["thread"]))
        self.assertEqual(self.s.get("/api/v1/messages/%d/raw" % cid).body, raws[2])
        self.assertEqual(self.counts(src), (1, 0))
        self.assertEqual(self.counts(dst), (3, 2))
        self.assertEqual(sorted(page_ids(self, self.s, {"folder": dst}, 50)),
                         sorted([ids[0], ids[1], cid]))
        # moving where it is changes nothing
        patch(self, self.s, {"ids": [ids[2]], "move": src})
        self.assertEqual(get_msg(self, self.s, ids[2])["uid"], o["uid"])
        for body in ({"ids": [ids[2]], "move": 999999}, {"ids": [ids[2]], "copy": 999999}):
            r = self.s.req("PATCH", "/api/v1/messages", body=body)
            yz.assert_error(self, r, 404, "not_found", "%r" % body)
        for body in ({"ids": [ids[2]], "move": "x"}, {"ids": [ids[2]], "copy": 0},
                     {"ids": [ids[2]], "move": -2}):
            r = self.s.req("PATCH", "/api/v1/messages", body=body)
            yz.assert_error(self, r, 400, "bad_request", "%r" % body)
        self.assertEqual(self.counts(src), (1, 0))
        self.assertEqual(self.counts(dst), (3, 2))

    def test_delete_to_trash_then_expunge(self):
        fid, ids, raws = self.fresh(3)
        trash = folder_id(self, self.s, role="trash")
        t0 = self.counts(trash)
        u0 = folder_list(self, self.s)["usage"]
        r = self.s.req("DELETE", "/api/v1/messages", body={"ids": ids[:2]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"ok": True, "count": 2})
        self.assertEqual(self.counts(fid), (1, 1))
        self.assertEqual(self.counts(trash), (t0[0] + 2, t0[1] + 2))
        for mid in ids[:2]:
            self.assertEqual(get_msg(self, self.s, mid)["folder"], trash)
        self.assertEqual(folder_list(self, self.s)["usage"], u0, "Trash still counts")
        # deleting in Trash expunges
        r = self.s.req("DELETE", "/api/v1/messages?ids=%d" % ids[0])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.counts(trash), (t0[0] + 1, t0[1] + 1))
        for path in ("/api/v1/messages/%d", "/api/v1/messages/%d/raw",
                     "/api/v1/messages/%d/parts/1"):
            yz.assert_error(self, self.s.get(path % ids[0]), 404, "not_found", path)
        self.assertNotIn(ids[0], page_ids(self, self.s, {"folder": trash}, 100))
        u1 = folder_list(self, self.s)["usage"]
        self.assertEqual((u1["messages"], u1["bytes"]),
                         (u0["messages"] - 1, u0["bytes"] - len(raws[0])),
                         "an expunged message no longer counts")
        for body in ({"ids": [ids[0]], "seen": True}, {"ids": [ids[0]], "restore": True}):
            r = self.s.req("PATCH", "/api/v1/messages", body=body)
            yz.assert_error(self, r, 404, "not_found", "changing an expunged message")
        r = self.s.req("DELETE", "/api/v1/messages", body={"ids": [ids[0]]})
        yz.assert_error(self, r, 404, "not_found", "deleting an expunged message")

    def test_restore_out_of_trash(self):
        fid, ids, raws = self.fresh(2)
        inbox = folder_id(self, self.s, role="inbox")
        patch(self, self.s, {"ids": [ids[0]], "seen": True, "note": "回收"})
        self.s.req("DELETE", "/api/v1/messages", body={"ids": ids})
        r = patch(self, self.s, {"ids": ids, "restore": True})
        self.assertEqual(r.json(), {"ok": True, "count": 2, "copies": None})
        for mid, raw in zip(ids, raws):
            m = get_msg(self, self.s, mid)
            self.assertEqual(m["folder"], fid, "back in the folder it came from")
            self.assertEqual(self.s.get("/api/v1/messages/%d/raw" % mid).body, raw)
        m = get_msg(self, self.s, ids[0])
        self.assertEqual((m["flags"], m["note"]), (["seen"], "回收"))
        self.assertEqual(self.counts(fid), (2, 1))
        # restore of a message that is not in Trash leaves it where it is
        patch(self, self.s, {"ids": [ids[0]], "restore": True})
        self.assertEqual(get_msg(self, self.s, ids[0])["folder"], fid)
        # moved to Trash by hand, then deleted from its folder's copy: both return home
        other, oids, _ = self.fresh(1)
        trash = folder_id(self, self.s, role="trash")
        patch(self, self.s, {"ids": oids, "move": trash})
        patch(self, self.s, {"ids": oids, "restore": True})
        self.assertEqual(get_msg(self, self.s, oids[0])["folder"], other)
        # restore when the home folder is gone: Inbox
        self.s.req("DELETE", "/api/v1/messages", body={"ids": [ids[1]]})
        self.assertEqual(self.s.delete("/api/v1/folders/%d" % fid).status, 200)
        patch(self, self.s, {"ids": [ids[1]], "restore": True})
        self.assertEqual(get_msg(self, self.s, ids[1])["folder"], inbox)
        r = self.s.req("PATCH", "/api/v1/messages", body={"ids": [ids[1]], "restore": False})
        yz.assert_error(self, r, 400, "bad_request", "restore false")


# ---------------------------------------------------------------------------------------------
# Search


def smail(subject, sender, date, body, attach=None):
    name, address = sender
    hdr = [("From", addr(name, address) if not name.isascii() else '"%s" <%s>' % (name, address)),
           ("To", "sou@" + D), ("Subject", ew(subject, "UTF-8")), ("Date", date),
           ("MIME-Version", "1.0")]
    if attach is None:
        return part(hdr + [("Content-Type", "text/plain; charset=UTF-8"),
                           ("Content-Transfer-Encoding", "base64")], b64(body.encode()))
    return part(hdr + [("Content-Type", "multipart/mixed; boundary=sb")], multipart("sb", [
        part([("Content-Type", "text/plain; charset=UTF-8"),
              ("Content-Transfer-Encoding", "base64")], b64(body.encode())),
        part([("Content-Type", "application/octet-stream"),
              ("Content-Disposition", "attachment; filename*=" + yz.rfc2231(attach)),
              ("Content-Transfer-Encoding", "base64")], b64(b"\x00\x01binary"))]))


ZHANG = ("张伟", "zhang.wei@example.cn")
LI = ("李娜", "li.na@example.test")
WANG = ("Wang Fang", "wang.fang@example.test")

SEARCH_SET = {
    # key: (subject, sender, date, body, attachment, folder path or role)
    "S1": ("第三季度销售报告", ZHANG, "Tue, 15 Oct 2024 09:30:00 +0800",
           "本季度销售额增长百分之二十，详见附件。", "数据.xlsx", "inbox"),
    "S2": ("年度总结", LI, "Thu, 28 Dec 2023 16:00:00 +0800",
           "销售部门今天提交了年度报告，客户满意度提高。", None, "inbox"),
    "S3": ("项目周报", WANG, "Fri, 08 Mar 2024 18:00:00 +0800",
           "本周完成了接口设计。", None, "inbox"),
    "S4": ("会议通知", ZHANG, "Fri, 20 May 2022 10:00:00 +0800",
           "下周一上午开会讨论周报格式。", None, "inbox"),
    "S5": ("邮件测试 hello world", ("Test Bot", "bot@example.test"),
           "Sat, 01 Jun 2024 08:00:00 +0800", "Quarterly numbers, 邮政编码 100000.", None,
           "inbox"),
    "S6": ("华为合作洽谈", ("赵强", "zhao.qiang@example.cn"), "Thu, 08 Aug 2024 14:00:00 +0800",
           "关于合作的初步方案，请审阅。", None, "客户/华为"),
    "S7": ("旧的销售报告", LI, "Mon, 15 Jan 2024 09:00:00 +0800",
           "这是上一季度的销售报告。", None, "trash"),
}


class Search(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        s = cls.s = signin(SOU)
        folders = {f["role"]: f["id"] for f in folder_list(CHK, s)["items"] if f["role"]}
        r = s.post("/api/v1/folders", {"name": "客户"})
        assert r.status == 201, r
        r = s.post("/api/v1/folders", {"name": "华为", "parent": r.json()["id"]})
        assert r.status == 201, r
        folders["客户/华为"] = r.json()["id"]
        cls.id = {}
        for key, (subject, sender, date, body, att, where) in SEARCH_SET.items():
            raw = smail(subject, sender, date, body, att)
            target = folders["inbox"] if where == "trash" else folders[where]
            r = s.req("POST", "/api/v1/folders/%d/messages" % target,
                      headers={"Content-Type": "message/rfc822"}, body=raw)
            assert r.status == 201, r
            cls.id[key] = r.json()["id"]
        cls.key = {v: k for k, v in cls.id.items()}

        def pa(body):
            r = s.req("PATCH", "/api/v1/messages", body=body)
            assert r.status == 200, r

        r = s.req("DELETE", "/api/v1/messages", body={"ids": [cls.id["S7"]]})
        assert r.status == 200, r
        pa({"ids": [cls.id["S1"], cls.id["S2"]], "seen": True})
        pa({"ids": [cls.id["S3"]], "colour": "red"})
        pa({"ids": [cls.id["S4"]], "colour": "红"})
        pa({"ids": [cls.id["S3"]], "note": "下周跟进合同"})
        yz.wait_indexed(s.get)

    def keys(self, q, **params):
        return [self.key.get(i, i) for i in search_ids(self, self.s, q, **params)]

    def test_words_and_fragments(self):
        cases = [
            ("报告", ["S1", "S2"]),           # a word in a subject and in a body
            ("销售报告", ["S1"]),             # four characters: S2 has 销售 and 报告 apart
            ('"销售报告"', ["S1"]),
            ("季度", ["S1"]),                 # a two-character fragment of 第三季度 / 本季度
            ("邮", ["S5"]),                   # one character
            ("客户", ["S2"]),
            ("合作", ["S6"]),
            ("hello", ["S5"]),
            ("HELLO", ["S5"]),
            ("ｈｅｌｌｏ", ["S5"]),          # full-width forms are normalised
            ("quarterly", ["S5"]),
            ("100000", ["S5"]),
            ("报告 客户", ["S2"]),            # every word must match
            ("不存在的词", []),
        ]
        for q, want in cases:
            with self.subTest(q=q):
                self.assertEqual(self.keys(q), want)

    def test_fields(self):
        cases = [
            ("from:zhang.wei@example.cn", ["S1", "S4"]),
            ("from:张伟", ["S1", "S4"]),
            ("from:wang", ["S3"]),
            ("subject:周报", ["S3"]),          # S4 has 周报 in its body only
            ("subject:报告", ["S1"]),
            ('subject:"销售报告"', ["S1"]),
            ("note:合同", ["S3"]),
            ("note:周报", []),
            ("file:数据", ["S1"]),
            ("has:attachment", ["S1"]),
            ("has:attachment 报告", ["S1"]),
            ("to:sou@example.test 会议", ["S4"]),
        ]
        for q, want in cases:
            with self.subTest(q=q):
                self.assertEqual(self.keys(q), want)

    def test_filters(self):
        cases = [
            ("in:客户/华为", ["S6"]),
            ("in:客户/华为 合作", ["S6"]),
            ("in:inbox 合作", []),
            ("in:INBOX", ["S1", "S5", "S3", "S2", "S4"]),
            ("in:收件箱 报告", ["S1", "S2"]),
            ("in:trash", ["S7"]),
            ("in:已删除 销售报告", ["S7"]),
            ("is:unread", ["S6", "S5", "S3", "S4"]),
            ("is:read", ["S1", "S2"]),
            ("is:unread 报告", []),
            ("tag:red", ["S3", "S4"]),
            ("tag:红", ["S3", "S4"]),
            ("tag:1", ["S3", "S4"]),
            ("tag:blue", []),
            ("before:2024-01-01", ["S2", "S4"]),
            ("after:2024-01-01", ["S1", "S6", "S5", "S3"]),
            ("after:2024-01-01 before:2024-07-01", ["S5", "S3"]),
            ("after:2024-01-01 is:unread tag:red", ["S3"]),
        ]
        for q, want in cases:
            with self.subTest(q=q):
                self.assertEqual(self.keys(q), want)
        j = search(self, self.s, "is:unread")
        self.assertEqual(j["total"], -1, "flags filtered: total unknown (docs/API.md)")

    def test_folder_parameter(self):
        fid = folder_id(self, self.s, path="客户/华为")
        self.assertEqual(self.keys("合作", folder=fid), ["S6"])
        self.assertEqual(self.keys("报告", folder=fid), [])

    def test_items_and_highlight(self):
        j = search(self, self.s, "销售报告")
        self.assertEqual((j["total"], j["next"], j["pending"]), (1, None, 0))
        it = j["items"][0]
        m = get_msg(self, self.s, self.id["S1"])
        self.assertEqual({k: it[k] for k in it if k != "highlight"},
                         {k: m[k] for k in it if k != "highlight"})
        self.assert_highlight(it["highlight"], "销售报告")
        for q, key, hit in (("客户", "S2", "客户"), ("hello", "S5", "hello"),
                            ("邮", "S5", "邮")):
            it = search(self, self.s, q)["items"][0]
            self.assertEqual(self.key[it["id"]], key)
            self.assert_highlight(it["highlight"], hit)

    def assert_highlight(self, segs, hit):
        self.assertIsInstance(segs, list)
        self.assertTrue(segs, "no highlight")
        for seg in segs:
            self.assertEqual(sorted(seg), ["match", "text"], seg)
            self.assertIsInstance(seg["match"], bool)
            self.assertTrue(seg["text"], "empty segment %r" % (segs,))
        text = "".join(seg["text"] for seg in segs)
        marked = []
        for seg in segs:
            marked += [seg["match"]] * len(seg["text"])
        starts = [i for i in range(len(text)) if text[i:i + len(hit)].lower() == hit.lower()]
        self.assertTrue(starts, "%r not in the excerpt %r" % (hit, text))
        self.assertTrue(any(all(marked[i:i + len(hit)]) for i in starts),
                        "%r is not marked as a match in %r" % (hit, segs))
        self.assertTrue(any(seg["match"] for seg in segs))
        self.assertFalse(all(seg["match"] for seg in segs), "everything marked: %r" % segs)

    def test_paging_and_order(self):
        want = ["S1", "S6", "S5", "S3", "S2", "S4"]
        r = search(self, self.s, "after:2020-01-01", limit=4)
        self.assertEqual([self.key[it["id"]] for it in r["items"]], want[:4])
        self.assertIsInstance(r["next"], str)
        r2 = search(self, self.s, "after:2020-01-01", limit=4, cursor=r["next"])
        self.assertEqual([self.key[it["id"]] for it in r2["items"]], want[4:])
        self.assertIsNone(r2["next"])
        rel = search_ids(self, self.s, "报告", order="relevance")
        self.assertEqual(sorted(rel), sorted([self.id["S1"], self.id["S2"]]))
        self.assertEqual(self.keys("", limit=200), want)

    def test_note_found_after_indexing(self):
        s = self.s
        self.assertEqual(self.keys("note:发票"), [])
        patch(self, s, {"ids": [self.id["S2"]], "note": "发票已寄出"})
        yz.wait_indexed(s.get)
        self.assertEqual(self.keys("note:发票"), ["S2"])
        patch(self, s, {"ids": [self.id["S2"]], "note": None})
        yz.wait_indexed(s.get)
        self.assertEqual(self.keys("note:发票"), [])

    def test_bad_queries(self):
        for params in ({"q": "x", "limit": 0}, {"q": "x", "limit": 201},
                       {"q": "x", "limit": "a"}, {"q": "x", "cursor": "abc"},
                       {"q": "x", "cursor": "-1"}, {"q": "x", "folder": "abc"},
                       {"q": "before:2024-13-45"}, {"q": "after:yesterday"},
                       {"q": "in:不存在的文件夹"}, {"q": "tag:pink"}, {"q": "is:sleeping"},
                       {"q": "x" * 1100}):
            with self.subTest(params=str(params)[:60]):
                r = self.s.get("/api/v1/search?" + urllib.parse.urlencode(params))
                yz.assert_error(self, r, 400, "bad_request", str(params)[:60])


class SearchAfterChanges(unittest.TestCase):
    """The index follows moves, Trash and expunge."""

    def test_highlight_deep_in_a_long_mail(self):
        """The index keeps only the first 2 KB of a body for excerpts; a match further in
        (here after 6 KB) is still shown, marked, from the message itself."""
        s = signin(SOU2)
        inbox = folder_id(self, s, role="inbox")
        body = "开头一段。\n" + "无关的填充文字，" * 400 + "\n这里才提到潜水艇计划的细节。\n"
        self.assertGreater(len(body.encode()), 6000)
        mid = upload(self, s, inbox, smail("长邮件", WANG, "Sat, 02 Feb 2019 11:00:00 +0800",
                                          body))
        yz.wait_indexed(s.get)
        j = search(self, s, "潜水艇")
        self.assertEqual([it["id"] for it in j["items"]], [mid])
        Search.assert_highlight(self, j["items"][0]["highlight"], "潜水艇")
        text = "".join(seg["text"] for seg in j["items"][0]["highlight"])
        self.assertIn("计划的细节", text, "the excerpt is the passage around the match")

    def test_move_trash_expunge_restore_copy(self):
        s = signin(SOU2)
        inbox = folder_id(self, s, role="inbox")
        raw = smail("搬家通知", WANG, "Sat, 02 Feb 2019 10:00:00 +0800", "下个月搬家到新办公室。")
        mid = upload(self, s, inbox, raw)
        yz.wait_indexed(s.get)
        keys = lambda q: search_ids(self, s, q)
        self.assertEqual(keys("搬家"), [mid])
        self.assertEqual(keys("in:inbox 搬家"), [mid])
        patch(self, s, {"ids": [mid], "move": folder_id(self, s, role="archive")})
        yz.wait_indexed(s.get)
        self.assertEqual(keys("in:inbox 搬家"), [])
        self.assertEqual(keys("in:archive 搬家"), [mid])
        self.assertEqual(keys("in:归档 搬家"), [mid])
        self.assertEqual(keys("搬家"), [mid])
        r = patch(self, s, {"ids": [mid], "copy": inbox})
        cid = r.json()["copies"][0]
        yz.wait_indexed(s.get)
        self.assertEqual(sorted(keys("搬家")), sorted([mid, cid]))
        s.req("DELETE", "/api/v1/messages", body={"ids": [mid, cid]})
        yz.wait_indexed(s.get)
        self.assertEqual(keys("搬家"), [], "Trash is left out unless in: says otherwise")
        self.assertEqual(sorted(keys("in:trash 搬家")), sorted([mid, cid]))
        s.req("DELETE", "/api/v1/messages", body={"ids": [cid]})
        yz.wait_indexed(s.get)
        self.assertEqual(keys("in:trash 搬家"), [mid], "an expunged message is not found")
        patch(self, s, {"ids": [mid], "restore": True})
        yz.wait_indexed(s.get)
        self.assertEqual(keys("in:archive 搬家"), [mid])


# ---------------------------------------------------------------------------------------------
# Threads


class Threads(unittest.TestCase):
    def test_reply_joins_its_parent(self):
        s = signin(XU)
        inbox = folder_id(self, s, role="inbox")
        p = upload(self, s, inbox, text_mail("项目计划", "zhang.wei@example.cn",
                                             "Sun, 01 Sep 2024 10:00:00 +0800", "计划如下。\n",
                                             msgid="plan@example.cn"))
        r1 = upload(self, s, inbox, text_mail(
            "回复：项目计划", "li.na@example.test", "Sun, 01 Sep 2024 12:00:00 +0800",
            "同意。\n", msgid="r1@example.test",
            extra=[("In-Reply-To", "<plan@example.cn>"), ("References", "<plan@example.cn>")]))
        r2 = upload(self, s, inbox, text_mail(
            "Re: 回复：项目计划", "zhang.wei@example.cn", "Mon, 02 Sep 2024 09:00:00 +0800",
            "好的。\n", msgid="r2@example.cn",
            extra=[("In-Reply-To", "<r1@example.test>"),
                   ("References", "<plan@example.cn> <r1@example.test>")]))
        other = upload(self, s, inbox, text_mail("项目计划", "wang.fang@example.test",
                                                 "Tue, 03 Sep 2024 09:00:00 +0800",
                                                 "另一个同名的新邮件。\n", msgid="other@x.test"))
        # a reply that arrives before its parent
        c = upload(self, s, inbox, text_mail(
            "Re: 预算", "li.na@example.test", "Wed, 04 Sep 2024 12:00:00 +0800", "收到。\n",
            msgid="c@example.test", extra=[("In-Reply-To", "<budget@example.cn>"),
                                           ("References", "<budget@example.cn>")]))
        b = upload(self, s, inbox, text_mail("预算", "zhang.wei@example.cn",
                                             "Wed, 04 Sep 2024 10:00:00 +0800", "预算表。\n",
                                             msgid="budget@example.cn"))
        t = {mid: get_msg(self, s, mid)["thread"] for mid in (p, r1, r2, other, c, b)}
        self.assertEqual(t[p], t[r1])
        self.assertEqual(t[p], t[r2])
        self.assertNotEqual(t[other], t[p], "the same subject without a reference is new")
        self.assertEqual(t[c], t[b])
        self.assertNotEqual(t[b], t[p])
        r = s.get("/api/v1/threads/%d" % t[p])
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual(j["id"], t[p])
        self.assertEqual([it["id"] for it in j["items"]], [p, r1, r2], "oldest first")
        self.assertEqual([it["subject"] for it in j["items"]],
                         ["项目计划", "回复：项目计划", "Re: 回复：项目计划"])
        self.assertEqual(get_msg(self, s, r2)["in_reply_to"], "r1@example.test")
        self.assertEqual(get_msg(self, s, r2)["references"], ["plan@example.cn",
                                                              "r1@example.test"])
        self.assertEqual([it["id"] for it in s.get("/api/v1/threads/%d" % t[b]).json()
                          ["items"]], [b, c])
        self.assertEqual([it["id"] for it in s.get("/api/v1/threads/%d" % t[other]).json()
                          ["items"]], [other])
        # expunged mail leaves the thread
        s.req("DELETE", "/api/v1/messages", body={"ids": [r1]})
        s.req("DELETE", "/api/v1/messages", body={"ids": [r1]})
        self.assertEqual([it["id"] for it in s.get("/api/v1/threads/%d" % t[p]).json()
                          ["items"]], [p, r2])
        for tid in ("999999", "abc", "0"):
            yz.assert_error(self, s.get("/api/v1/threads/" + tid), 404, "not_found",
                            "thread " + tid)


# ---------------------------------------------------------------------------------------------
# Quota


def blob_count():
    n = 0
    for _dirpath, _dirs, files in os.walk(os.path.join(SRV.data, "blobs")):
        n += sum(1 for f in files if not f.startswith("."))
    return n


class Quota(unittest.TestCase):
    def set_quota(self, n):
        yz.sql_write(SRV.data, "directory.db",
                     "UPDATE service_classes SET quota_bytes = ? WHERE name = 'proto-small'",
                     (n,))

    def test_over_quota(self):
        yz.sql_write(SRV.data, "directory.db",
                     "INSERT INTO service_classes (name, quota_bytes, max_message_bytes,"
                     " max_recipients, netdisk_bytes) VALUES ('proto-small', 0, 52428800,"
                     " 500, 0)")
        yz.sql_write(SRV.data, "directory.db",
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
            return SRV.req(method, path, headers=h, body=body)
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
        token = yz.token_add(SRV, REN[0], "mail.read")
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
        token = yz.token_add(SRV, REN[0], "mail.read", "mail.write")
        req = self.bearer(token)
        r = req("PATCH", "/api/v1/messages", {"ids": [self.mid], "flagged": True})
        self.assertEqual(r.status, 200, "a token needs no CSRF header: %r" % (r,))
        self.assertIn("flagged", get_msg(self, self.s, self.mid)["flags"])
        r = req("PATCH", "/api/v1/messages", {"ids": [self.mid], "flagged": False})
        self.assertEqual(r.status, 200, r)
        only_write = self.bearer(yz.token_add(SRV, REN[0], "mail.write"))
        r = only_write("GET", "/api/v1/folders")
        yz.assert_error(self, r, 403, "forbidden", "mail.write without mail.read")
        profile = self.bearer(yz.token_add(SRV, REN[0], "profile.read"))
        for path in ("/api/v1/folders", "/api/v1/messages", "/api/v1/search?q=x",
                     "/api/v1/messages/%d" % self.mid):
            yz.assert_error(self, profile("GET", path), 403, "forbidden", "profile.read " + path)

    def test_bad_token(self):
        r = self.bearer("yz_" + "0" * 40)("GET", "/api/v1/folders")
        yz.assert_error(self, r, 401, "unauthorized", "unknown token")
        self.assertIn("invalid_token", r.headers.get("www-authenticate", ""))
        r = SRV.req("GET", "/api/v1/folders")
        yz.assert_error(self, r, 401, "unauthorized", "no credentials")

    def test_admin_roles_have_no_mailbox(self):
        s = yz.login(SRV, SA[0], SA[1], source_ip=SRV.new_ip())
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
        cp = yz.run_cli(["token", "add", "--data", SRV.data, SA[0], "--name", "x", "--scope",
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
