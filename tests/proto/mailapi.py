"""Shared by the mail API tests (test_mail_*.py, docs/API.md "Mail"): their accounts, the
server they run against, messages written byte for byte as clients send them, and helpers
for the API calls. Each test module starts its own server with start()/stop()."""

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


def start():
    """setUpModule of every test_mail_* module: one server with all the accounts."""
    global SRV
    SRV = yz.Server(users=[XIN, FANG, MEI, PEI, CHEN, SOU, SOU2, XU, QUAN, REN, MA, SA],
                    name="test_mail_api")
    SRV.start()


def stop():
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
