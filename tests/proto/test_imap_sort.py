"""IMAP SORT and THREAD (RFC 5256, server/imap/imap_sort.c) driven by Python's imaplib and raw
sockets against a real `yizhan serve`: every sort key, REVERSE, several keys, search criteria
(flags, sizes, sequence sets and Chinese text through the index), UID SORT, MODSEQ; base
subjects with Re:/Fwd:/[blob]/(fwd)/[Fwd: ...] and Chinese MIME-encoded subjects; DATE falling
back to the internal date; THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (the store's thread
grouping: flat threads, see docs/ARCHITECTURE.md); the capability list; errors.

The expected orders below are worked out by hand from the messages in MSGS (sizes from the
bytes appended) and written out in full.

Run: YIZHAN_BIN=build/server/yizhan /usr/bin/python3 tests/proto/test_imap_sort.py -v
"""

import email.header
import imaplib
import os
import re
import socket
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yzharness as h  # noqa: E402

ALICE = ("alice@example.test", "pw-alice-123", "user", "Alice")
CORPUS = os.path.join(h.REPO, "tests", "data", "mail", "flanker")

SRV = None


def enc(s):
    return email.header.Header(s, "utf-8").encode()


# (headers, internal date, total size): appended in this order, so sequence numbers are 1..10.
MSGS = [
    ([("From", '"Zed Zhou" <zed@example.test>'), ("To", "Bob <bob@example.test>"),
      ("Cc", "carol@example.test"), ("Subject", "Re: Apple"),
      ("Date", "Tue, 05 Mar 2024 10:00:00 +0000"), ("Message-ID", "<apple-2@sort.test>"),
      ("In-Reply-To", "<apple-1@sort.test>"), ("References", "<apple-1@sort.test>")],
     "10-Mar-2024 00:00:00 +0000", 600),
    ([("From", "alice@example.test"), ("To", "zoe@example.test"), ("Subject", "apple"),
      ("Date", "Fri, 01 Mar 2024 09:00:00 +0800"), ("Message-ID", "<apple-1@sort.test>")],
     "09-Mar-2024 00:00:00 +0000", 500),
    ([("From", enc("张三") + " <zhang@example.test>"), ("To", "mike@example.test"),
      ("Cc", "Amy <amy@example.test>"), ("Subject", enc("Re: 会议通知")),
      ("Date", "Sat, 02 Mar 2024 08:00:00 +0000"), ("Message-ID", "<meet-2@sort.test>"),
      ("In-Reply-To", "<meet-1@sort.test>"), ("References", "<meet-1@sort.test>")],
     "08-Mar-2024 00:00:00 +0000", 700),
    ([("From", "bob@example.test"), ("Subject", "Fwd: banana (fwd)"),
      ("Date", "Mon, 04 Mar 2024 12:00:00 +0000"), ("Message-ID", "<banana-1@sort.test>")],
     "07-Mar-2024 00:00:00 +0000", 500),
    ([("From", "Carol <carol@example.test>"), ("To", "alice@example.test"),
      ("Cc", "zed@example.test"), ("Subject", "[list] Re: Banana"),
      ("Date", "Sun, 03 Mar 2024 12:00:00 -0500"), ("Message-ID", "<banana-2@sort.test>")],
     "06-Mar-2024 00:00:00 +0000", 900),
    ([("From", "dave@example.test"), ("To", "Bob@Example.test"), ("Subject", "[Fwd: cherry]"),
      ("Message-ID", "<cherry-1@sort.test>")],  # no Date: sorts by its internal date
     "01-Mar-2024 00:00:00 +0000", 550),
    ([("From", "alice@example.test"), ("To", "carol@example.test"),
      ("Subject", enc("[团队] Fwd: 会议通知")), ("Date", "Wed, 06 Mar 2024 00:00:00 +0000"),
      ("Message-ID", "<meet-3@sort.test>"), ("In-Reply-To", "<meet-2@sort.test>"),
      ("References", "<meet-1@sort.test> <meet-2@sort.test>")],
     "05-Mar-2024 00:00:00 +0000", 650),
    ([("From", "=?UTF-8?Q?=C3=89ric?= <eric@example.test>"), ("To", "zoe@example.test"),
      ("Subject", enc("会议通知")), ("Date", "Thu, 29 Feb 2024 00:00:00 +0000"),
      ("Message-ID", "<meet-1@sort.test>")],
     "11-Mar-2024 00:00:00 +0000", 800),
    ([("From", "bob@example.test"), ("To", "alice@example.test"), ("Subject", "RE: Re: apple"),
      ("Date", "Thu, 07 Mar 2024 00:00:00 +0000"), ("Message-ID", "<apple-3@sort.test>"),
      ("In-Reply-To", "<apple-2@sort.test>"),
      ("References", "<apple-1@sort.test> <apple-2@sort.test>")],
     "12-Mar-2024 00:00:00 +0000", 520),
    ([("From", "zoe@example.test"), ("Date", "Fri, 08 Mar 2024 00:00:00 +0000"),
      ("Message-ID", "<lone@sort.test>")],  # no Subject, no To
     "04-Mar-2024 00:00:00 +0000", 480),
]

# (file, internal date), appended to the mailbox "Corpus" in this order
CORPUS_MSGS = [
    ("apache-message-news-mime.eml", "05-Jan-2020 00:00:00 +0000"),
    ("from-encoding.eml", "03-Jan-2020 00:00:00 +0000"),
    ("message-external-body.eml", "06-Jan-2020 00:00:00 +0000"),
    ("multi-received-headers.eml", "01-Jan-2020 00:00:00 +0000"),
    ("8bitmime.eml", "04-Jan-2020 00:00:00 +0000"),
    ("encoded-header.eml", "01-Jan-2000 00:00:00 +0000"),  # no Date header
]


def build(headers, size):
    head = "".join("%s: %s\r\n" % kv for kv in headers).encode()
    body = b"\r\n" + b"x" * (size - len(head) - 4) + b"\r\n"
    msg = head + body
    assert len(msg) == size, (len(msg), size)
    return msg


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def setUpModule():
    global SRV
    SRV = h.Server(users=[ALICE], name="imapsort")
    SRV.start()
    m = imaps()
    for box in ("Sorted", "Corpus"):
        typ, _ = m.create(box)
        assert typ == "OK"
    # a first message, expunged, so UIDs are not the sequence numbers
    m.append("Sorted", None, None, b"Subject: junk\r\n\r\njunk\r\n")
    for headers, when, size in MSGS:
        typ, _ = m.append("Sorted", None, '"%s"' % when, build(headers, size))
        assert typ == "OK"
    for name, when in CORPUS_MSGS:
        with open(os.path.join(CORPUS, name), "rb") as f:
            typ, _ = m.append("Corpus", None, '"%s"' % when, crlf(f.read()))
        assert typ == "OK", name
    m.select("Sorted")
    m.store("1", "+FLAGS", r"(\Deleted)")
    m.expunge()
    m.logout()


def tearDownModule():
    if SRV:
        SRV.stop()


def ctx():
    return ssl.create_default_context(cafile=os.path.join(SRV.data, "tls", "cert.pem"))


def imaps(user=ALICE):
    m = imaplib.IMAP4_SSL("localhost", SRV.base + 993, ssl_context=ctx(), timeout=30)
    if user:
        typ, _ = m.login(user[0], user[1])
        assert typ == "OK"
    return m


class Raw:
    """A line-oriented TLS IMAP client, for exact response lines and UTF-8 literals."""

    def __init__(self, timeout=30):
        s = socket.create_connection(("127.0.0.1", SRV.base + 993), timeout)
        self.s = ctx().wrap_socket(s, server_hostname="localhost")
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        ln, _, self.buf = self.buf.partition(b"\r\n")
        return ln

    def cmd(self, text):
        """(untagged lines, tagged line) of one command."""
        self.n += 1
        tag = b"t%d" % self.n
        self.s.sendall(tag + b" " + (text if isinstance(text, bytes) else text.encode()) +
                       b"\r\n")
        out = []
        while True:
            ln = self.line()
            if ln.startswith(tag + b" "):
                return out, ln[len(tag) + 1:]
            out.append(ln)

    def ok(self, text):
        out, tagged = self.cmd(text)
        assert tagged.startswith(b"OK"), (text, out, tagged)
        return out

    def close(self):
        try:
            self.cmd("LOGOUT")
            self.s.close()
        except (OSError, EOFError):
            pass


def login(box="Sorted"):
    r = Raw()
    r.ok("LOGIN %s %s" % (ALICE[0], ALICE[1]))
    if box:
        r.ok("SELECT " + box)
    return r


def untagged(out, name):
    lines = [ln for ln in out if ln.startswith(b"* " + name.encode())]
    assert len(lines) == 1, out
    return lines[0].decode()


def sort_of(r, text):
    """The numbers of a "* SORT" response as a list."""
    ln = untagged(r.ok(text), "SORT")
    return [int(x) for x in ln.split()[2:]]


def thread_of(r, text):
    """A "* THREAD" response's thread lists, as the text after "* THREAD "."""
    ln = untagged(r.ok(text), "THREAD")
    return ln[len("* THREAD "):] if ln != "* THREAD" else ""


class Capability(unittest.TestCase):
    def test_after_login_only(self):
        r = Raw()
        out, _ = r.cmd("CAPABILITY")
        caps = untagged(out, "CAPABILITY").split()
        for c in ("SORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"):
            self.assertNotIn(c, caps)
        r.ok("LOGIN %s %s" % (ALICE[0], ALICE[1]))
        out = r.ok("CAPABILITY")
        caps = untagged(out, "CAPABILITY").split()
        for c in ("SORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"):
            self.assertIn(c, caps)
        r.close()


class Sort(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = login()

    @classmethod
    def tearDownClass(cls):
        cls.r.close()

    def s(self, text):
        return sort_of(self.r, "SORT " + text)

    def test_each_key(self):
        self.assertEqual(self.s("(ARRIVAL) UTF-8 ALL"), [6, 10, 7, 5, 4, 3, 2, 1, 8, 9])
        # 6 has no Date: its internal date (1 Mar 00:00) sorts it before 2 (1 Mar 01:00 UTC)
        self.assertEqual(self.s("(DATE) UTF-8 ALL"), [8, 6, 2, 3, 5, 4, 1, 7, 9, 10])
        # 2 and 4 are both 500 bytes: sequence order
        self.assertEqual(self.s("(SIZE) UTF-8 ALL"), [10, 2, 4, 9, 6, 1, 7, 3, 8, 5])
        # base subjects: "" < APPLE (1 2 9) < BANANA (4 5) < CHERRY (6) < 会议通知 (3 7 8)
        self.assertEqual(self.s("(SUBJECT) UTF-8 ALL"), [10, 1, 2, 9, 4, 5, 6, 3, 7, 8])
        # local parts: alice alice bob bob carol dave eric zed zhang zoe
        self.assertEqual(self.s("(FROM) UTF-8 ALL"), [2, 7, 4, 9, 5, 6, 8, 1, 3, 10])
        # no To (4 10) first; bob and Bob compare equal (1 6)
        self.assertEqual(self.s("(TO) UTF-8 ALL"), [4, 10, 5, 9, 1, 6, 7, 3, 2, 8])
        self.assertEqual(self.s("(CC) UTF-8 ALL"), [2, 4, 6, 7, 8, 9, 10, 3, 1, 5])

    def test_reverse(self):
        # REVERSE turns the key around, not the tie-break by sequence number (2 before 4)
        self.assertEqual(self.s("(REVERSE SIZE) UTF-8 ALL"), [5, 8, 3, 7, 1, 6, 9, 2, 4, 10])
        self.assertEqual(self.s("(REVERSE ARRIVAL) UTF-8 ALL"), [9, 8, 1, 2, 3, 4, 5, 7, 10, 6])
        self.assertEqual(self.s("(REVERSE SUBJECT) UTF-8 ALL"), [3, 7, 8, 6, 4, 5, 1, 2, 9, 10])

    def test_several_keys(self):
        self.assertEqual(self.s("(SUBJECT DATE) UTF-8 ALL"), [10, 2, 1, 9, 5, 4, 6, 8, 3, 7])
        self.assertEqual(self.s("(SUBJECT REVERSE DATE) UTF-8 ALL"),
                         [10, 9, 1, 2, 4, 5, 6, 7, 3, 8])
        self.assertEqual(self.s("(REVERSE SUBJECT DATE) UTF-8 ALL"),
                         [8, 3, 7, 6, 5, 4, 2, 1, 9, 10])
        self.assertEqual(self.s("(to reverse size) us-ascii ALL"),
                         [4, 10, 5, 9, 1, 6, 7, 3, 8, 2])

    def test_search_criteria(self):
        self.assertEqual(self.s("(SUBJECT) UTF-8 LARGER 540"), [1, 5, 6, 3, 7, 8])
        self.assertEqual(self.s("(DATE) US-ASCII 1:5"), [2, 3, 5, 4, 1])
        self.assertEqual(self.s("(REVERSE DATE) UTF-8 OR 2 (SMALLER 510 NOT 10)"), [4, 2])
        self.assertEqual(self.s("(SIZE) UTF-8 LARGER 100000"), [])
        # a Chinese text key through the index, sent as a UTF-8 literal
        word = "会议".encode()
        out = self.r.ok(b"SORT (ARRIVAL) UTF-8 SUBJECT {%d+}\r\n" % len(word) + word)
        self.assertEqual(untagged(out, "SORT"), "* SORT 7 3 8")

    def test_flags_criteria(self):
        self.r.ok(r"STORE 3,5 +FLAGS (\Flagged)")
        try:
            self.assertEqual(self.s("(DATE) UTF-8 FLAGGED"), [3, 5])
            # arrived on 8 March or later: 3 (flagged) 2 1 8 9
            self.assertEqual(self.s("(REVERSE DATE) UTF-8 UNFLAGGED SINCE 8-Mar-2024"),
                             [9, 1, 2, 8])
        finally:
            self.r.ok(r"STORE 3,5 -FLAGS (\Flagged)")

    def test_uid_sort(self):
        out = self.r.ok("FETCH 1:* (UID)")
        uid = {}
        for ln in out:
            m = re.match(rb"\* (\d+) FETCH \(UID (\d+)\)", ln)
            if m:
                uid[int(m.group(1))] = int(m.group(2))
        self.assertEqual(len(uid), 10)
        self.assertTrue(all(uid[s] != s for s in uid))  # the first message was expunged
        want = [uid[s] for s in [8, 6, 2, 3, 5, 4, 1, 7, 9, 10]]
        self.assertEqual(sort_of(self.r, "UID SORT (DATE) UTF-8 ALL"), want)
        want = [uid[s] for s in [2, 3, 5, 4, 1]]
        self.assertEqual(sort_of(self.r, "UID SORT (DATE) UTF-8 UID %d:%d" % (uid[1], uid[5])),
                         want)

    def test_modseq(self):
        out = self.r.ok("SORT (SIZE) UTF-8 MODSEQ 1 1:3")
        self.assertRegex(untagged(out, "SORT"), r"^\* SORT 2 1 3 \(MODSEQ \d+\)$")

    def test_imaplib(self):
        m = imaps()
        m.select("Sorted", readonly=True)
        typ, data = m.sort("(REVERSE DATE)", "UTF-8", "ALL")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"10 9 7 1 4 5 3 2 6 8"])
        typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"(8 (3)(7))(6)(2 (1)(9))(5)(4)(10)"])
        m.logout()

    def test_errors(self):
        r = self.r
        for bad in ("SORT (FOO) UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL", "SORT () UTF-8 ALL",
                    "SORT DATE UTF-8 ALL", "SORT (DATE REVERSE) UTF-8 ALL",
                    "SORT (DATE) UTF-8", "SORT (DATE)", "SORT (DATE) UTF-8 FOO",
                    "SORT (DATE (SIZE)) UTF-8 ALL", "UID SORT (ARRIVAL FROM X) UTF-8 ALL",
                    "THREAD FOO UTF-8 ALL", "THREAD REFERENCES UTF-8", "THREAD (REFERENCES) UTF-8 ALL",
                    "THREAD ORDEREDSUBJECT UTF-8 BAR"):
            out, tagged = r.cmd(bad)
            self.assertTrue(tagged.startswith(b"BAD"), (bad, tagged))
            self.assertFalse([ln for ln in out if ln.startswith((b"* SORT", b"* THREAD"))])
        for bad in ("SORT (DATE) KOI8-R ALL", "SORT (DATE) \"ISO-8859-1\" ALL",
                    "THREAD REFERENCES GB2312 ALL", "UID THREAD ORDEREDSUBJECT BIG5 ALL"):
            out, tagged = r.cmd(bad)
            self.assertTrue(tagged.startswith(b"NO [BADCHARSET"), (bad, tagged))
        # the session is still fine
        self.assertEqual(self.s("(SIZE) UTF-8 1:2"), [2, 1])

    def test_not_selected(self):
        r = Raw()
        for c in ("SORT (DATE) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL"):
            _, tagged = r.cmd(c)
            self.assertTrue(tagged.startswith(b"BAD"), tagged)
        r.ok("LOGIN %s %s" % (ALICE[0], ALICE[1]))
        for c in ("SORT (DATE) UTF-8 ALL", "UID SORT (DATE) UTF-8 ALL",
                  "THREAD REFERENCES UTF-8 ALL", "UID THREAD ORDEREDSUBJECT UTF-8 ALL"):
            _, tagged = r.cmd(c)
            self.assertTrue(tagged.startswith((b"BAD", b"NO")), tagged)
        r.ok("SELECT Sorted")
        r.ok("UNSELECT")
        _, tagged = r.cmd("SORT (DATE) UTF-8 ALL")
        self.assertTrue(tagged.startswith((b"BAD", b"NO")), tagged)
        r.close()


class Thread(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = login()

    @classmethod
    def tearDownClass(cls):
        cls.r.close()

    def t(self, text):
        return thread_of(self.r, "THREAD " + text)

    def test_orderedsubject(self):
        # one thread per base subject, members by sent date, the first the parent of the
        # rest; threads by their first message's sent date
        self.assertEqual(self.t("ORDEREDSUBJECT UTF-8 ALL"),
                         "(8 (3)(7))(6)(2 (1)(9))(5 4)(10)")
        self.assertEqual(self.t("ORDEREDSUBJECT US-ASCII NOT 8"), "(6)(2 (1)(9))(3 7)(5 4)(10)")

    def test_references(self):
        # the store's threads: 1 2 9 by their references (2 arrived after its reply 1),
        # 3 7 8 likewise; 4 and 5 share a base subject but no reference: two threads
        self.assertEqual(self.t("REFERENCES UTF-8 ALL"), "(8 (3)(7))(6)(2 (1)(9))(5)(4)(10)")
        self.assertEqual(self.t("REFERENCES UTF-8 NOT 2"), "(8 (3)(7))(6)(5)(4)(1 9)(10)")
        self.assertEqual(self.t("REFERENCES UTF-8 3"), "(3)")
        self.assertEqual(self.t("REFERENCES UTF-8 LARGER 100000"), "")

    def test_uid_thread(self):
        out = self.r.ok("FETCH 1:* (UID)")
        uid = {}
        for ln in out:
            m = re.match(rb"\* (\d+) FETCH \(UID (\d+)\)", ln)
            if m:
                uid[int(m.group(1))] = int(m.group(2))
        want = re.sub(r"\d+", lambda m: str(uid[int(m.group(0))]),
                      "(8 (3)(7))(6)(2 (1)(9))(5 4)(10)")
        self.assertEqual(thread_of(self.r, "UID THREAD ORDEREDSUBJECT UTF-8 ALL"), want)
        want = re.sub(r"\d+", lambda m: str(uid[int(m.group(0))]), "(2 (1)(9))")
        self.assertEqual(thread_of(self.r, "UID THREAD REFERENCES UTF-8 UID %d,%d,%d"
                                   % (uid[1], uid[2], uid[9])), want)


class Corpus(unittest.TestCase):
    """Real messages from tests/data/mail/flanker (LF line ends made CRLF)."""

    @classmethod
    def setUpClass(cls):
        cls.r = login("Corpus")

    @classmethod
    def tearDownClass(cls):
        cls.r.close()

    def s(self, text):
        return sort_of(self.r, "SORT " + text)

    def test_keys(self):
        # Date: 1996, 1997-07, 1997-12, (none: internal 2000), 2010, 2011
        self.assertEqual(self.s("(DATE) UTF-8 ALL"), [1, 2, 3, 6, 5, 4])
        self.assertEqual(self.s("(ARRIVAL) UTF-8 ALL"), [6, 4, 2, 5, 1, 3])
        # "2 RCPT MIME", "hello", "I-D ACTION:...txt (fwd)", "[Fwd: Netscape ...]",
        # "Fwd: Please forward...", "Re: running server as root (Was: Re: PUT method)"
        self.assertEqual(self.s("(SUBJECT) UTF-8 ALL"), [5, 6, 3, 1, 4, 2])
        # bob foo.bar hartill hello ingo marcs
        self.assertEqual(self.s("(FROM) UTF-8 ALL"), [5, 6, 1, 4, 2, 3])
        # example foo new-httpd (x3) xxx
        self.assertEqual(self.s("(TO) UTF-8 ALL"), [4, 6, 1, 2, 3, 5])
        sizes = []
        for name, _ in CORPUS_MSGS:
            with open(os.path.join(CORPUS, name), "rb") as f:
                sizes.append(len(crlf(f.read())))
        want = sorted(range(1, 7), key=lambda s: (sizes[s - 1], s))
        self.assertEqual(self.s("(SIZE) UTF-8 ALL"), want)

    def test_threads(self):
        self.assertEqual(thread_of(self.r, "THREAD ORDEREDSUBJECT UTF-8 ALL"),
                         "(1)(2)(3)(6)(5)(4)")
        self.assertEqual(thread_of(self.r, "THREAD REFERENCES UTF-8 ALL"), "(1)(2)(3)(6)(5)(4)")


if __name__ == "__main__":
    unittest.main()
