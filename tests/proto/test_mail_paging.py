#!/usr/bin/env python3
"""The mail API (docs/API.md "Mail"), lists and changes: keyset paging, sorting, filters;
batch changes (seen and the unread counts, colour, pin, note, keywords, move, copy); Trash,
expunge and restore. Shared helpers: mailapi.py."""

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


if __name__ == "__main__":
    yz.main()
