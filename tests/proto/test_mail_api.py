#!/usr/bin/env python3
"""The mail API (docs/API.md "Mail"), folders and content: folders (the six special-use ones,
nested Chinese names, conflicts, bad names, rename/move, delete to Trash); storing and reading
messages with Chinese headers and bodies (GB2312, GBK in a GB2312 label, GB18030, Big5,
unlabelled 8-bit, encoded words split inside a character, RFC 2231 file names, HTML-only
mail, inline images) and corpus messages; /raw byte for byte; /parts downloads (RFC 6266 file
names, nosniff, never text/html). Paging and changes are in test_mail_paging.py, search and
threads in test_mail_search.py, the quota, access and malformed requests in
test_mail_access.py; what they share is mailapi.py.

Every account here belongs to one test class, so each class can assert exact counts."""

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


if __name__ == "__main__":
    yz.main()
