#!/usr/bin/env python3
"""The mail API (docs/API.md "Mail"), search and threads: the query syntax of
search/search.h, its highlights, the index following moves, Trash and expunge; threads.
Shared helpers: mailapi.py."""

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


if __name__ == "__main__":
    yz.main()
