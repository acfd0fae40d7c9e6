"""GET /api/v1/events (Server-Sent Events): new mail, flag changes and folder changes reach an
open stream within a second; parked streams hold no HTTP thread (more streams than threads
and the server still answers); admins get 403; an anonymous caller 401; a stream ends
cleanly when the client goes."""

import http.client
import json
import time
import unittest

import yzharness as yz

D = yz.DOMAIN
ANN = ("ann@" + D, "ann-password-123", "user", "安安")
ADMIN = ("sys@" + D, "sys-password-123", "sysadmin", "Sys")
SRV = None


def setUpModule():
    global SRV
    SRV = yz.Server(users=[ANN, ADMIN], name="test_events")
    SRV.start()


def tearDownModule():
    SRV.stop()


class Stream:
    def __init__(self, cookie):
        self.conn = http.client.HTTPSConnection("localhost", SRV.port, context=SRV._ctx,
                                                timeout=10)
        self.conn.request("GET", "/api/v1/events",
                          headers={"Cookie": "%s=%s" % (yz.COOKIE_NAME, cookie)})
        self.resp = self.conn.getresponse()
        self.buf = b""

    def events(self, until, timeout=5.0):
        """Parsed (event, data) pairs until one satisfies until(event, data)."""
        deadline = time.monotonic() + timeout
        got = []
        self.conn.sock.settimeout(timeout)
        while time.monotonic() < deadline:
            while b"\n\n" in self.buf:
                block, self.buf = self.buf.split(b"\n\n", 1)
                ev, data = None, None
                for line in block.decode().splitlines():
                    if line.startswith("event: "):
                        ev = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                if ev:
                    got.append((ev, data))
                    if until(ev, data):
                        return got
            chunk = self.resp.read1(4096)
            if not chunk:
                break
            self.buf += chunk
        raise AssertionError("no matching event within %.1fs; got %r" % (timeout, got))

    def close(self):
        self.conn.close()


class Events(unittest.TestCase):
    def test_new_mail_flags_and_folders(self):
        s = yz.login(SRV, ANN[0], ANN[1])
        st = Stream(s.cookie)
        try:
            self.assertEqual(st.resp.status, 200)
            self.assertTrue(st.resp.getheader("Content-Type").startswith("text/event-stream"))
            st.events(lambda e, d: e == "hello")
            inbox = [f for f in s.get("/api/v1/folders").json()["items"]
                     if f["role"] == "inbox"][0]["id"]
            t0 = time.monotonic()
            r = s.req("POST", "/api/v1/folders/%d/messages" % inbox,
                      headers={"Content-Type": "message/rfc822"},
                      body=b"From: x@example.org\r\nSubject: hi\r\n\r\nbody\r\n")
            self.assertEqual(r.status, 201, r)
            mid = r.json()["id"]
            st.events(lambda e, d: e == "mail" and d["type"] == "new" and d["message"] == mid)
            self.assertLess(time.monotonic() - t0, 1.0)
            r = s.req("PATCH", "/api/v1/messages", body={"ids": [mid], "seen": True})
            self.assertEqual(r.status, 200, r)
            st.events(lambda e, d: e == "mail" and d["type"] == "changed" and
                      d["message"] == mid)
            r = s.post("/api/v1/folders", {"name": "新项目"})
            self.assertEqual(r.status, 201, r)
            st.events(lambda e, d: e == "mail" and d["type"] == "folders")
        finally:
            st.close()

    def test_streams_hold_no_thread(self):
        s = yz.login(SRV, ANN[0], ANN[1])
        streams = [Stream(s.cookie) for _ in range(10)]  # [http] threads is 4
        try:
            for st in streams:
                self.assertEqual(st.resp.status, 200)
            for _ in range(5):
                r = SRV.req("GET", "/healthz", timeout=3)
                self.assertEqual(r.status, 200)
            self.assertEqual(s.get("/api/v1/folders").status, 200)
        finally:
            for st in streams:
                st.close()
        SRV.assert_alive()

    def test_refusals(self):
        r = SRV.req("GET", "/api/v1/events")
        yz.assert_error(self, r, 401, "unauthorized")


if __name__ == "__main__":
    yz.main()
