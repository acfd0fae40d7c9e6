"""Sending and delivery: the web/API send path, local delivery (aliases, groups, lists,
forwarding, vacation), remote delivery to a real SMTP receiver (aiosmtpd, Debian's
python3-aiosmtpd) through the relay host setting, DSN bounces, the queue commands, undo send
and drafts. Every check reads the delivered result back: mailboxes over the API, the raw
message, what the receiver got.
"""

import email
import email.policy
import hashlib
import os
import re
import subprocess
import threading
import time
import unittest
import urllib.parse

import yzharness as yz

from aiosmtpd.controller import Controller

D = yz.DOMAIN
ALICE = ("alice@" + D, "alice-password-1", "user", "王小丽")
BOB = ("bob@" + D, "bob-password-123", "user", "Bob Li")
CAROL = ("carol@" + D, "carol-password-1", "user", "陈晨")
DAVE = ("dave@" + D, "dave-password-12", "user", "Dave")
ERIN = ("erin@" + D, "erin-password-12", "user", "Erin")  # a small quota


class Receiver:
    """An SMTP server for the remote side: refuses rcpts starting with 'reject', defers
    ones starting with 'later', keeps everything else."""

    def __init__(self):
        self.got = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 no such user here"
        if address.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Ok: kept"


SRV = None
RCV = None
CTRL = None
SESS = {}


def setUpModule():
    global SRV, RCV, CTRL
    RCV = Receiver()
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    CTRL = Controller(RCV, hostname="127.0.0.1", port=port)
    CTRL.start()
    SRV = yz.offline_server(users=[ALICE, BOB, CAROL, DAVE, ERIN],
                            name="test_delivery")
    yz.conf_append(SRV.data, "queue", {"relay_host": "127.0.0.1", "relay_port": port,
                                       "remote_timeout": 10, "workers": 2})
    SRV.launch()
    for u in (ALICE, BOB, CAROL, DAVE, ERIN):
        SESS[u[0]] = yz.login(SRV, u[0], u[1])


def tearDownModule():
    if CTRL:
        CTRL.stop()
    if SRV:
        SRV.stop()


def s(u):
    return SESS[u[0]]


def send(u, obj, status=202):
    r = s(u).post("/api/v1/messages/send", obj)
    if r.status != status:
        raise AssertionError("send answered %r" % (r,))
    return r.json()


def inbox(u, folder=None, want=None, timeout=20):
    """The folder's messages; with want, wait until that many are there."""
    deadline = time.monotonic() + timeout
    while True:
        q = "/api/v1/messages?limit=200" + ("&folder=%d" % folder if folder else "")
        r = s(u).get(q)
        assert r.status == 200, r
        items = r.json()["items"]
        if want is None or len(items) >= want or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


def folder_id(u, role):
    r = s(u).get("/api/v1/folders")
    return [f["id"] for f in r.json()["items"] if f["role"] == role][0]


def raw(u, mid):
    r = s(u).get("/api/v1/messages/%d/raw" % mid)
    assert r.status == 200, r
    return email.message_from_bytes(r.body, policy=email.policy.default)


def wait_receiver(n, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with RCV.lock:
            if len(RCV.got) >= n:
                return list(RCV.got)
        time.sleep(0.1)
    with RCV.lock:
        return list(RCV.got)


def by_subject(items, subject):
    return [m for m in items if m["subject"] == subject]


def wait_subject(u, subject, n=1, folder=None, timeout=20):
    """The messages with this subject, once there are at least n (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        got = by_subject(inbox(u, folder), subject)
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


class Local(unittest.TestCase):
    def test_send_to_local_users(self):
        up = s(ALICE).req("POST", "/api/v1/uploads?name=" + urllib.parse.quote("季度报告.pdf"),
                          headers={"Content-Type": "application/pdf"}, body=b"%PDF-1.4 test\n")
        self.assertEqual(up.status, 201, up)
        upload = up.json()
        self.assertEqual(upload["name"], "季度报告.pdf")
        j = send(ALICE, {"to": ["Bob Li <bob@%s>" % D], "cc": [{"name": "陈晨",
                                                                 "address": CAROL[0]}],
                         "subject": "第三季度报告", "text": "请查收附件。\n谢谢",
                         "html": "<p>请查收<b>附件</b>。</p>", "attachments": [upload["id"]]})
        self.assertRegex(j["qid"], r"^[0-9a-f]{16}$")
        for u in (BOB, CAROL):
            got = wait_subject(u, "第三季度报告")
            self.assertEqual(len(got), 1, u[0])
            m = got[0]
            self.assertEqual(m["from"], {"name": "王小丽", "address": ALICE[0]})
            self.assertTrue(m["has_attachments"])
            full = s(u).get("/api/v1/messages/%d" % m["id"]).json()
            self.assertEqual(full["text"].strip(), "请查收附件。\n谢谢")
            self.assertIn("<b>附件</b>", full["html"])
            self.assertEqual([(a["name"], a["type"]) for a in full["attachments"]],
                             [("季度报告.pdf", "application/pdf")])
            part = s(u).get("/api/v1/messages/%d/parts/%s" % (m["id"],
                                                              full["attachments"][0]["part"]))
            self.assertEqual(part.body, b"%PDF-1.4 test\n")
            msg = raw(u, m["id"])
            self.assertIn("by localhost with HTTPSA", str(msg["Received"]))
            self.assertIsNone(msg["Bcc"])
        # the sender keeps a copy in Sent, read
        sent = by_subject(inbox(ALICE, folder_id(ALICE, "sent")), "第三季度报告")
        self.assertEqual(len(sent), 1)
        self.assertIn("seen", sent[0]["flags"])
        self.assertEqual(sent[0]["id"], j["id"])
        # bcc gets it, and no header names it
        send(ALICE, {"to": [BOB[0]], "bcc": [DAVE[0]], "subject": "密送测试", "text": "x"})
        got = wait_subject(DAVE, "密送测试")
        self.assertEqual(len(got), 1)
        self.assertNotIn(DAVE[0], str(raw(DAVE, got[0]["id"])))

    def test_send_refusals(self):
        # not an address the user may send as
        r = s(ALICE).post("/api/v1/messages/send", {"from": BOB[0], "to": [CAROL[0]],
                                                    "subject": "x", "text": "x"})
        yz.assert_error(self, r, 403, "forbidden")
        for bad in (["not an address"], ["a%b@example.org"], ["@x,@y:u@z"], ["u!v@w.example"]):
            r = s(ALICE).post("/api/v1/messages/send", {"to": bad, "subject": "x", "text": "x"})
            yz.assert_error(self, r, 400, "bad_request", repr(bad))
        r = s(ALICE).post("/api/v1/messages/send", {"subject": "no one", "text": "x"})
        yz.assert_error(self, r, 400, "bad_request")
        r = s(ALICE).post("/api/v1/messages/send", {"to": [BOB[0]], "attachments": ["nope"]})
        yz.assert_error(self, r, 400, "bad_request")
        r = s(ALICE).post("/api/v1/messages/send", {"to": [BOB[0]], "delay_seconds": 99})
        yz.assert_error(self, r, 400, "bad_request")
        # CSRF on the send route
        r = s(ALICE).req("POST", "/api/v1/messages/send", body={"to": [BOB[0]]}, csrf=False)
        yz.assert_error(self, r, 403, "csrf")

    def test_alias_group_and_list(self):
        cp = SRV.cli_data("alias", "add", "sales@" + D, BOB[0])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        cp = SRV.cli_data("list", "add", "team@" + D, "--name", "项目组", "--group")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        for m in (CAROL[0], DAVE[0], "sales@" + D, "team@" + D, "outside@remote.example"):
            cp = SRV.cli_data("list", "member", "team@" + D, m)
            self.assertEqual(cp.returncode, 0, cp.stderr)
        send(ALICE, {"to": ["sales@" + D], "subject": "别名投递", "text": "to the alias"})
        self.assertEqual(len(wait_subject(BOB, "别名投递")), 1)
        before = len(wait_receiver(0))
        send(ALICE, {"to": ["team@" + D], "subject": "全组通知", "text": "to the group"})
        # each member once (the alias is Bob; the list holds itself: the loop is cut)
        for u in (BOB, CAROL, DAVE):
            self.assertEqual(len(wait_subject(u, "全组通知")), 1, u[0])
        got = wait_receiver(before + 1)
        outside = [g for g in got[before:] if "outside@remote.example" in g[1]]
        self.assertEqual(len(outside), 1, got)
        self.assertIn("全组通知", email.message_from_bytes(outside[0][2],
                                                         policy=email.policy.default)["Subject"])
        # Bob may send as his alias
        send(BOB, {"from": "sales@" + D, "to": [CAROL[0]], "subject": "以别名发出", "text": "x"})
        got = wait_subject(CAROL, "以别名发出")
        self.assertEqual(got[-1]["from"]["address"], "sales@" + D)

    def test_forwarding_and_vacation(self):
        r = s(DAVE).req("PUT", "/api/v1/settings/mail", body={
            "forwarding": {"to": CAROL[0], "keep_copy": True},
            "vacation": {"on": True, "subject": "我在休假", "body": "下周一回来。",
                         "period_days": 7}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["forwarding"]["to"], CAROL[0])
        # turning forwarding on is audited
        audit = yz.sql_read(os.path.join(SRV.data, "audit.db"),
                            "SELECT type, detail FROM audit WHERE type = 'mail.forwarding.on'")
        self.assertEqual(len(audit), 1)
        self.assertIn(CAROL[0], audit[0][1])
        send(BOB, {"to": [DAVE[0]], "subject": "请转发", "text": "x"})
        self.assertEqual(len(wait_subject(DAVE, "请转发")), 1)
        self.assertEqual(len(wait_subject(CAROL, "请转发")), 1)
        # one vacation reply to Bob, marked as automatic
        replies = wait_subject(BOB, "我在休假")
        self.assertEqual(len(replies), 1)
        msg = raw(BOB, replies[0]["id"])
        self.assertEqual(msg["Auto-Submitted"], "auto-replied")
        # it answers the message it replies to (parsed only when a reply is due)
        orig = raw(DAVE, wait_subject(DAVE, "请转发")[0]["id"])
        self.assertTrue(orig["Message-ID"])
        self.assertEqual(msg["In-Reply-To"], orig["Message-ID"])
        # a second message within the period: no second reply
        send(BOB, {"to": [DAVE[0]], "subject": "再来一封", "text": "x"})
        wait_subject(DAVE, "再来一封")
        time.sleep(1.5)
        self.assertEqual(len(by_subject(inbox(BOB), "我在休假")), 1)
        r = s(DAVE).req("PUT", "/api/v1/settings/mail", body={
            "forwarding": {"to": None}, "vacation": {"on": False}})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json()["forwarding"]["to"])

    def test_over_quota_in_one_go(self):
        # Erin's quota holds two of the five 20 KB messages that arrive together. Deliveries
        # are stored per account in one batch; a batch over the quota is stored one by one, so
        # what fits goes in and the rest fails as "mailbox full" (a bounce), nothing twice.
        yz.sql_write(SRV.data, "directory.db",
                     "INSERT INTO service_classes (name, quota_bytes, max_message_bytes,"
                     " max_recipients, netdisk_bytes) VALUES ('dlv-small', 50000, 52428800,"
                     " 500, 0)")
        yz.sql_write(SRV.data, "directory.db",
                     "UPDATE accounts SET class_id = (SELECT id FROM service_classes WHERE"
                     " name = 'dlv-small') WHERE address = ?", (ERIN[0],))
        body = ("x" * 75 + "\n") * 260  # about 20 KB
        qids = [send(ALICE, {"to": [ERIN[0]], "subject": "配额 %d" % i, "text": body})["qid"]
                for i in range(5)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = yz.sql_read(os.path.join(SRV.data, "audit.db"),
                               "SELECT type, detail FROM audit WHERE type IN"
                               " ('mail.delivered', 'mail.failed')")
            done = [(t, d) for t, d in rows if any(q in d for q in qids)]
            if len(done) >= 5:
                break
            time.sleep(0.3)
        self.assertEqual(sorted(t for t, _ in done),
                         ["mail.delivered"] * 2 + ["mail.failed"] * 3, done)
        self.assertTrue(all("mailbox full" in d for t, d in done if t == "mail.failed"), done)
        got = [m for m in inbox(ERIN) if m["subject"].startswith("配额 ")]
        self.assertEqual(len(got), 2, [m["subject"] for m in got])
        usage = s(ERIN).get("/api/v1/folders").json()["usage"]
        self.assertLessEqual(usage["bytes"], 50000)
        self.assertEqual(usage["messages"], 2)

    def test_forwarding_loop_is_cut(self):
        # Carol forwards to Alice and Alice to Carol, both keeping a copy. The forwarded copy
        # carries Delivered-To: of the account that forwarded it, so when it comes back there
        # it is stored but not sent round again.
        for u, to in ((CAROL, ALICE), (ALICE, CAROL)):
            r = s(u).req("PUT", "/api/v1/settings/mail",
                         body={"forwarding": {"to": to[0], "keep_copy": True}})
            self.assertEqual(r.status, 200, r)
        try:
            send(BOB, {"to": [CAROL[0]], "subject": "转发环路", "text": "x"})
            carol = wait_subject(CAROL, "转发环路", n=2)
            alice = wait_subject(ALICE, "转发环路", n=1)
            time.sleep(2)  # nothing more comes
            carol = by_subject(inbox(CAROL), "转发环路")
            alice = by_subject(inbox(ALICE), "转发环路")
            self.assertEqual((len(carol), len(alice)), (2, 1))
            back = [raw(CAROL, m["id"]) for m in carol]
            self.assertEqual(sorted(len(m.get_all("Delivered-To") or []) for m in back), [0, 2])
            self.assertEqual(raw(ALICE, alice[0]["id"]).get_all("Delivered-To"), [CAROL[0]])
            logs = open(SRV.log_path, encoding="utf-8").read()
            self.assertIn("mail loop: not forwarded", logs)
        finally:
            for u in (CAROL, ALICE):
                s(u).req("PUT", "/api/v1/settings/mail", body={"forwarding": {"to": None}})


class Remote(unittest.TestCase):
    def test_relay_delivery(self):
        before = len(wait_receiver(0))
        j = send(CAROL, {"to": ["someone@remote.example", "other@remote.example"],
                         "subject": "发往外部", "text": "外部投递"})
        got = wait_receiver(before + 1)
        mine = [g for g in got[before:] if "someone@remote.example" in g[1]]
        self.assertEqual(len(mine), 1, got)
        mail_from, rcpts, content = mine[0]
        self.assertEqual(mail_from, CAROL[0])
        self.assertEqual(sorted(rcpts), ["other@remote.example", "someone@remote.example"])
        msg = email.message_from_bytes(content, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "发往外部")
        self.assertEqual(msg.get_content().strip(), "外部投递")
        # the queue forgets it once delivered
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cp = SRV.cli_data("queue", "list")
            if j["qid"] not in cp.stdout:
                break
            time.sleep(0.3)
        self.assertNotIn(j["qid"], cp.stdout)
        # audited
        rows = yz.sql_read(os.path.join(SRV.data, "audit.db"),
                           "SELECT detail FROM audit WHERE type = 'mail.sent'")
        self.assertTrue(any(j["qid"] in r[0] for r in rows))

    def test_bounce(self):
        j = send(CAROL, {"to": ["reject-me@remote.example"], "subject": "会被退回",
                         "text": "bounce me"})
        dsn = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and dsn is None:
            for m in inbox(CAROL):
                if "退信" in m["subject"] or "Undelivered" in m["subject"]:
                    dsn = m
            time.sleep(0.3)
        self.assertIsNotNone(dsn, "no bounce arrived")
        msg = raw(CAROL, dsn["id"])
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        status = [p for p in msg.walk() if p.get_content_type() == "message/delivery-status"]
        self.assertEqual(len(status), 1)
        text = status[0].as_string()
        self.assertIn("Final-Recipient: rfc822; reject-me@remote.example", text)
        self.assertIn("Action: failed", text)
        self.assertIn("Status: 5.1.1", text)
        self.assertIn("550", text)
        self.assertEqual(dsn["from"]["address"].lower(), "mailer-daemon@localhost")
        self.assertIn(j["qid"], yz.sql_read(
            os.path.join(SRV.data, "audit.db"),
            "SELECT group_concat(detail) FROM audit WHERE type = 'mail.failed'")[0][0])

    def test_deferred_and_queue_commands(self):
        j = send(CAROL, {"to": ["later@remote.example"], "subject": "稍后再试", "text": "x"})
        qid = j["qid"]
        deadline = time.monotonic() + 20
        out = ""
        while time.monotonic() < deadline:
            out = SRV.cli_data("queue", "show", qid).stdout
            if "attempts=1" in out:
                break
            time.sleep(0.3)
        self.assertIn("<later@remote.example>  queued  attempts=1", out)
        self.assertIn("451", out)
        self.assertEqual(SRV.cli_data("queue", "hold", qid).returncode, 0)
        self.assertIn("held", SRV.cli_data("queue", "show", qid).stdout)
        self.assertIn(qid, SRV.cli_data("queue", "list").stdout)
        self.assertEqual(SRV.cli_data("queue", "release", qid).returncode, 0)
        self.assertEqual(SRV.cli_data("queue", "retry", qid).returncode, 0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            out = SRV.cli_data("queue", "show", qid).stdout
            if "attempts=2" in out:
                break
            time.sleep(0.3)
        self.assertIn("attempts=2", out)
        self.assertEqual(SRV.cli_data("queue", "delete", qid).returncode, 0)
        cp = SRV.cli_data("queue", "show", qid)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("no queued message", cp.stderr)
        self.assertEqual(SRV.cli_data("queue", "frobnicate", qid).returncode, 2)


class Notify(unittest.TestCase):
    def test_success_notification(self):
        import smtplib
        import ssl
        ctx = ssl.create_default_context(cafile=os.path.join(SRV.data, "tls", "cert.pem"))
        with smtplib.SMTP("localhost", SRV.base + 587, timeout=20) as c:
            c.starttls(context=ctx)
            c.login(CAROL[0], CAROL[1])
            c.sendmail(CAROL[0], [DAVE[0]],
                       ("From: %s\r\nTo: %s\r\nSubject: 请回执\r\n\r\nx\r\n"
                        % (CAROL[0], DAVE[0])).encode("utf-8"),
                       mail_options=["SMTPUTF8", "ENVID=track-1"],
                       rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
        self.assertEqual(len(wait_subject(DAVE, "请回执")), 1)
        deadline = time.monotonic() + 20
        dsn = None
        while time.monotonic() < deadline and dsn is None:
            dsn = next((m for m in inbox(CAROL) if "Success" in m["subject"]), None)
            time.sleep(0.3)
        self.assertIsNotNone(dsn, "no success notification")
        text = [p for p in raw(CAROL, dsn["id"]).walk()
                if p.get_content_type() == "message/delivery-status"][0].as_string()
        self.assertIn("Action: delivered", text)
        self.assertIn("Status: 2.0.0", text)
        self.assertIn("Final-Recipient: rfc822; " + DAVE[0], text)
        self.assertIn("Original-Envelope-Id: track-1", text)


class Compose(unittest.TestCase):
    def test_undo_send(self):
        j = send(ALICE, {"to": [BOB[0]], "subject": "撤回测试", "text": "x",
                         "delay_seconds": 10})
        self.assertIsNotNone(j["undo_until"])
        r = s(ALICE).post("/api/v1/outbox/%s/cancel" % j["qid"], {"message": j["id"]})
        self.assertEqual(r.status, 200, r)
        # the copy went back to Drafts as a draft, and nothing arrives
        drafts = by_subject(inbox(ALICE, folder_id(ALICE, "drafts")), "撤回测试")
        self.assertEqual(len(drafts), 1)
        self.assertIn("draft", drafts[0]["flags"])
        time.sleep(2)
        self.assertEqual(by_subject(inbox(BOB), "撤回测试"), [])
        # too late once it has gone
        j2 = send(ALICE, {"to": [BOB[0]], "subject": "来不及撤回", "text": "x"})
        self.assertEqual(len(wait_subject(BOB, "来不及撤回")), 1)
        r = s(ALICE).post("/api/v1/outbox/%s/cancel" % j2["qid"], {"message": j2["id"]})
        yz.assert_error(self, r, 409, "too_late")

    def test_spool(self):
        """Mail up to 1 MiB waits for delivery in queue.db's spool (so accepting it costs one
        flush), larger mail as a blob file; either goes when it leaves the queue."""
        qdb = os.path.join(SRV.data, "queue.db")

        def queued(qid):
            return yz.sql_read(qdb, "SELECT blob, size FROM messages WHERE qid = ?", (qid,))[0]

        def spooled(digest):
            return yz.sql_read(qdb, "SELECT length(data) FROM spool WHERE blob = ?", (digest,))

        def blob_file(d):
            return yz.blob_file(SRV.data, d)

        small = send(ALICE, {"to": [BOB[0]], "subject": "暂存的小邮件", "text": "小" * 2000,
                             "delay_seconds": 30})
        d1, size1 = queued(small["qid"])
        self.assertEqual(spooled(d1), [(size1,)])
        self.assertFalse(os.path.exists(blob_file(d1)), "a small message is not a file yet")
        body = yz.queued_body(SRV.data, d1)
        self.assertEqual(hashlib.sha256(body).hexdigest(), d1)
        msg = email.message_from_bytes(body, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "暂存的小邮件")
        self.assertIn("小" * 2000, msg.get_body(("plain",)).get_content())

        big = os.urandom(1536 * 1024)
        up = s(ALICE).req("POST", "/api/v1/uploads?name=big.bin",
                          headers={"Content-Type": "application/octet-stream"}, body=big)
        self.assertEqual(up.status, 201, up)
        large = send(ALICE, {"to": [BOB[0]], "subject": "暂存的大邮件", "text": "附件很大",
                             "attachments": [up.json()["id"]], "delay_seconds": 30})
        d2, size2 = queued(large["qid"])
        self.assertGreater(size2, 1 << 20)
        self.assertEqual(spooled(d2), [], "over 1 MiB: not in the spool")
        self.assertEqual(os.path.getsize(blob_file(d2)), size2, "written as a blob before queueing")

        # undo both: the spooled copy goes with its queue row
        for j in (small, large):
            r = s(ALICE).post("/api/v1/outbox/%s/cancel" % j["qid"], {"message": j["id"]})
            self.assertEqual(r.status, 200, r)
        self.assertEqual(spooled(d1), [])
        self.assertEqual(yz.sql_read(qdb, "SELECT count(*) FROM messages WHERE qid IN (?, ?)",
                                     (small["qid"], large["qid"])), [(0,)])

        # sent for real, a spooled message arrives whole; once its queue row is cleaned up,
        # no spooled copy is left without a queue message
        j = send(ALICE, {"to": [BOB[0]], "subject": "暂存后投递", "text": "投递的正文"})
        got = wait_subject(BOB, "暂存后投递")
        self.assertEqual(len(got), 1)
        full = s(BOB).get("/api/v1/messages/%d" % got[0]["id"]).json()
        self.assertEqual(full["text"].strip(), "投递的正文")
        deadline = time.time() + 15
        while yz.sql_read(qdb, "SELECT 1 FROM messages WHERE qid = ?", (j["qid"],)):
            self.assertLess(time.time(), deadline, "the delivered message stays queued")
            time.sleep(0.2)
        self.assertEqual(yz.sql_read(qdb, "SELECT count(*) FROM spool WHERE NOT EXISTS"
                                          " (SELECT 1 FROM messages m WHERE m.blob = spool.blob)"),
                         [(0,)])

    def test_drafts(self):
        r = s(ALICE).post("/api/v1/drafts", {"to": [BOB[0]], "subject": "草稿一", "text": "v1"})
        self.assertEqual(r.status, 201, r)
        d1 = r.json()
        r = s(ALICE).req("PUT", "/api/v1/drafts/%d" % d1["id"],
                         body={"to": [BOB[0]], "subject": "草稿一（改）", "text": "v2"})
        self.assertEqual(r.status, 200, r)
        d2 = r.json()
        self.assertNotEqual(d2["id"], d1["id"])
        self.assertEqual(d2["message_id"], d1["message_id"])
        drafts = inbox(ALICE, folder_id(ALICE, "drafts"))
        self.assertEqual([m["subject"] for m in drafts if m["subject"].startswith("草稿一")],
                         ["草稿一（改）"])
        self.assertEqual(s(ALICE).get("/api/v1/messages/%d" % d1["id"]).status, 404)
        # sending a draft removes it
        send(ALICE, {"to": [BOB[0]], "subject": "草稿一（改）", "text": "v2",
                     "draft_id": d2["id"]})
        self.assertEqual(s(ALICE).get("/api/v1/messages/%d" % d2["id"]).status, 404)
        self.assertEqual(len(wait_subject(BOB, "草稿一（改）")), 1)

    def test_app_passwords_api(self):
        r = s(BOB).post("/api/v1/app-passwords", {"name": "Foxmail 手机"})
        self.assertEqual(r.status, 201, r)
        pw = r.json()["password"]
        self.assertRegex(pw, r"^[a-z2-9]{16}$")
        items = s(BOB).get("/api/v1/app-passwords").json()["items"]
        self.assertEqual([i["name"] for i in items], ["Foxmail 手机"])
        self.assertNotIn("password", items[0])
        r = s(BOB).delete("/api/v1/app-passwords/%d" % items[0]["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(s(BOB).get("/api/v1/app-passwords").json()["items"], [])


if __name__ == "__main__":
    yz.main()
