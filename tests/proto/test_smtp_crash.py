"""Crash safety of "250": 20 concurrent SMTP sessions hand in up to 1,000 messages while the
server is killed with SIGKILL at a random moment; after a restart every message that got a
250 is delivered exactly once (by Message-ID), no message is delivered twice, and every
delivered message is whole (its bytes are the sent ones plus our trace headers). Three
rounds, three kill points.
"""

import hashlib
import os
import random
import re
import smtplib
import sqlite3
import threading
import time
import unittest

import yzharness as yz

D = yz.DOMAIN
RCPT = ("crash@" + D, "crash-password-1", "user", "Crash")
SESSIONS = 20
MESSAGES = 1000


def body_of(i, rnd):
    # a few KB, different per message, so a cut-off message cannot pass as whole
    return ("".join("第%d封 line %d %s\r\n" % (i, k, rnd) for k in range(40))).encode()


def make(i, rnd):
    mid = "crash-%d-%s@test" % (i, rnd)
    return mid, (("From: sender@remote.test\r\nTo: %s\r\nSubject: crash %d\r\n"
                  "Message-ID: <%s>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0800\r\n\r\n"
                  % (RCPT[0], i, mid)).encode() + body_of(i, rnd))


def delivered(srv):
    """Message-ID -> list of stored bodies (after the header block)."""
    path = os.path.join(yz.account_dir(srv.data, RCPT[0]), "mail.db")
    if not os.path.exists(path):
        return {}
    rows = yz.sql_read(path, "SELECT message_id, blob FROM messages WHERE expunged_at = 0")
    out = {}
    for mid, digest in rows:
        with open(yz.blob_file(srv.data, digest), "rb") as f:
            raw = f.read()
        out.setdefault(mid, []).append(raw.split(b"\r\n\r\n", 1)[1])
    return out


def queue_drained(srv):
    rows = yz.sql_read(os.path.join(srv.data, "queue.db"),
                       "SELECT count(*) FROM rcpts WHERE state = 0")
    return rows[0][0] == 0


class Crash(unittest.TestCase):
    def round(self, srv, kill_after):
        rnd = "%08x" % random.getrandbits(32)
        acked = {}
        lock = threading.Lock()
        todo = list(range(MESSAGES))
        stop = threading.Event()

        def client():
            try:
                s = smtplib.SMTP("127.0.0.1", srv.base + 25, timeout=20)
                s.ehlo("crash.test")
            except OSError:
                return
            while not stop.is_set():
                with lock:
                    if not todo:
                        break
                    i = todo.pop()
                mid, raw = make(i, rnd)
                try:
                    s.sendmail("sender@remote.test", [RCPT[0]], raw)
                except (smtplib.SMTPException, OSError):
                    return  # the server died mid-transaction: this one was not acked
                with lock:
                    acked[mid] = raw
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass

        threads = [threading.Thread(target=client) for _ in range(SESSIONS)]
        for t in threads:
            t.start()
        time.sleep(kill_after)
        srv.kill()
        stop.set()
        for t in threads:
            t.join(30)
        srv.launch()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not queue_drained(srv):
            time.sleep(0.5)
        self.assertTrue(queue_drained(srv), "queue not drained after the restart")
        got = delivered(srv)
        mine = {mid: bodies for mid, bodies in got.items() if mid.endswith(rnd + "@test")}
        missing = [mid for mid in acked if mid not in mine]
        self.assertEqual(missing, [], "acknowledged with 250 but not delivered")
        twice = [mid for mid, bodies in mine.items() if len(bodies) > 1]
        self.assertEqual(twice, [], "delivered more than once")
        for mid, bodies in mine.items():
            i = int(re.match(r"crash-(\d+)-", mid).group(1))
            self.assertEqual(bodies[0], body_of(i, rnd), "%s is not whole" % mid)
        return len(acked), len(mine)

    def test_kill_at_random_moments(self):
        srv = yz.offline_server(users=[RCPT], name="test_smtp_crash")
        try:
            yz.conf_append(srv.data, "dns", {"servers": "127.0.0.1:%d" % (srv.base + 998),
                                             "timeout": 1})
            yz.conf_append(srv.data, "smtp", {"max_per_ip": 50})
            srv.launch()
            rng = random.Random(int(time.time()))
            for k in range(3):
                acked, stored = self.round(srv, 0.8 + rng.random() * 2.5)
                print("round %d: %d acknowledged, %d stored" % (k + 1, acked, stored))
                self.assertGreater(acked, 0, "nothing was acknowledged before the kill")
        finally:
            srv.stop(raise_on_error=False)


if __name__ == "__main__":
    yz.main()
