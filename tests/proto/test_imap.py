"""IMAP (server/imap/) driven by Python's imaplib and raw sockets against a real `yizhan
serve`: capabilities and STARTTLS, LOGIN/AUTHENTICATE PLAIN/SCRAM-SHA-256, app passwords,
audit, mailboxes with Chinese names made in the web API, APPEND with literals and LITERAL+,
FETCH of every corpus message, STORE with keywords/colours seen in the web API, COPY/MOVE with
COPYUID, EXPUNGE + `yizhan restore`, CONDSTORE/QRESYNC, SEARCH in Chinese, IDLE latency.

Run: YIZHAN_BIN=build/server/yizhan /usr/bin/python3 tests/proto/test_imap.py -v
"""

import base64
import email
import email.header
import email.policy
import glob
import imaplib
import os
import re
import socket
import sqlite3
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yzharness as h  # noqa: E402

ALICE = ("alice@example.test", "pw-alice-123", "user", "Alice")
BOB = ("bob@example.test", "pw-bob-123", "user", "Bob")
CAROL = ("carol@example.test", "pw-carol-123", "user", "Carol")
CORPUS = os.path.join(h.REPO, "tests", "data", "mail")

SRV = None


def setUpModule():
    global SRV
    SRV = h.Server(users=[ALICE, BOB, CAROL], name="imap")
    SRV.start()


def tearDownModule():
    if SRV:
        SRV.stop()


def ctx():
    c = ssl.create_default_context(cafile=os.path.join(SRV.data, "tls", "cert.pem"))
    return c


def imaps(user=ALICE):
    m = imaplib.IMAP4_SSL("localhost", SRV.base + 993, ssl_context=ctx(), timeout=30)
    if user:
        typ, _ = m.login(user[0], user[1])
        assert typ == "OK"
    return m


def web(user=ALICE):
    return h.login(SRV, user[0], user[1], source_ip=SRV.new_ip())


def mutf7(s):
    """RFC 3501 5.1.3, written here independently of the server's codec."""
    out, buf = [], []

    def flush():
        if buf:
            b = "".join(buf).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=").replace("/", ",") + "-")
            buf.clear()
    for ch in s:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


class Raw:
    """A line-oriented TLS IMAP client for what imaplib will not send."""

    def __init__(self, port=None, tls=True, timeout=10):
        s = socket.create_connection(("127.0.0.1", port or SRV.base + 993), timeout)
        self.s = ctx().wrap_socket(s, server_hostname="localhost") if tls else s
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        ln, _, self.buf = self.buf.partition(b"\r\n")
        return ln

    def until(self, tag):
        """Lines up to and including the tagged one."""
        out = []
        while True:
            ln = self.line()
            out.append(ln)
            if ln.startswith(tag.encode() + b" "):
                return out

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


class Auth(unittest.TestCase):
    def test_capabilities_and_starttls(self):
        m = imaplib.IMAP4("127.0.0.1", SRV.base + 143, timeout=20)
        caps = m.capabilities
        self.assertIn("STARTTLS", caps)
        self.assertIn("LOGINDISABLED", caps)
        self.assertNotIn("AUTH=PLAIN", caps)
        self.assertIn("AUTH=SCRAM-SHA-256", caps)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(ALICE[0], ALICE[1])
        m.starttls(ssl_context=ctx())
        caps = m.capabilities
        self.assertIn("AUTH=PLAIN", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertNotIn("STARTTLS", caps)
        typ, data = m.login(ALICE[0], ALICE[1])
        self.assertEqual(typ, "OK")
        self.assertIn(b"CAPABILITY", data[0])
        self.assertIn(b"IDLE", data[0])
        m.logout()

    def test_plaintext_injection_after_starttls_is_dropped(self):
        r = Raw(port=SRV.base + 143, tls=False)
        r.send("a STARTTLS\r\nb LOGIN alice@example.test pw-alice-123\r\n")
        self.assertTrue(r.line().startswith(b"a OK"))
        r.s = ctx().wrap_socket(r.s, server_hostname="localhost")
        r.buf = b""
        self.assertTrue(r.cmd("c", "NOOP")[-1].startswith(b"c OK"))
        self.assertTrue(r.cmd("d", "SELECT INBOX")[-1].startswith(b"d BAD"))
        r.close()

    def test_authenticate_plain(self):
        m = imaps(None)
        typ, _ = m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (BOB[0], BOB[1])).encode())
        self.assertEqual(typ, "OK")
        m.logout()

    def test_authenticate_plain_before_tls_refused(self):
        r = Raw(port=SRV.base + 143, tls=False)
        out = r.cmd("a", "AUTHENTICATE PLAIN " + base64.b64encode(b"\0a\0b").decode())
        self.assertTrue(out[-1].startswith(b"a NO"), out)
        r.close()

    def scram(self, raw, user, password, tag="s1"):
        first, bare, cnonce = h.client_first(user)
        raw.send("%s AUTHENTICATE SCRAM-SHA-256 %s\r\n" % (tag, h.b64e(first)))
        ln = raw.line()
        if not ln.startswith(b"+ "):
            return [ln]
        server_first = h.b64d(ln[2:].decode()).decode()
        fin = h.client_final(password, bare, server_first, cnonce)
        raw.send(h.b64e(fin[0]) + "\r\n")
        ln = raw.line()
        if not ln.startswith(b"+ "):
            return [ln]
        self.assertEqual(h.b64d(ln[2:].decode()).decode(), "v=" + h.b64e(fin[4]))
        raw.send("\r\n")
        return raw.until(tag)

    def test_scram_before_tls_and_after(self):
        r = Raw(port=SRV.base + 143, tls=False)  # SCRAM never reveals the password
        out = self.scram(r, CAROL[0], CAROL[1])
        self.assertTrue(out[-1].startswith(b"s1 OK"), out)
        self.assertTrue(r.cmd("x", "SELECT INBOX")[-1].startswith(b"x OK"))
        r.close()
        r = Raw()
        out = self.scram(r, CAROL[0], "wrong-password")
        self.assertTrue(out[-1].startswith(b"s1 NO"), out)
        out = self.scram(r, "nobody@example.test", "whatever", tag="s2")
        self.assertTrue(out[-1].startswith(b"s2 NO"), out)
        r.close()

    def test_app_password_and_audit(self):
        cp = SRV.cli("app-password", "add", "--data", SRV.data, BOB[0], "--name", "thunderbird")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        pw = cp.stdout.splitlines()[0].strip()
        m = imaps((BOB[0], pw))
        m.logout()
        with self.assertRaises(imaplib.IMAP4.error):
            imaps((BOB[0], "not-the-password"))
        time.sleep(0.5)
        db = sqlite3.connect(os.path.join(SRV.data, "audit.db"))
        rows = db.execute("SELECT type, detail FROM audit WHERE actor = ? AND client = 'imap'",
                          (BOB[0],)).fetchall()
        db.close()
        types = [t for t, _ in rows]
        self.assertIn("auth.login.ok", types)
        self.assertIn("auth.login.fail", types)
        self.assertTrue(any('"protocol":"imap"' in d and '"app_password"' in d for _, d in rows))


class Mailboxes(unittest.TestCase):
    def test_chinese_folder_round_trip(self):
        s = web()
        r = s.post("/api/v1/folders", {"name": "项目"})
        self.assertEqual(r.status, 201, r)
        parent = r.json()["id"]
        r = s.post("/api/v1/folders", {"name": "季度报告", "parent": parent})
        self.assertEqual(r.status, 201, r)
        m = imaps()
        typ, data = m.list()
        names = [re.search(rb'"/" "?([^"]*)"?$', d).group(1).decode() for d in data]
        self.assertIn(mutf7("项目"), names)
        self.assertIn(mutf7("项目/季度报告"), names)
        line = [d for d in data if mutf7("项目").encode() + b'"' in d][0]
        self.assertIn(b"\\HasChildren", line)
        typ, _ = m.select('"%s"' % mutf7("项目/季度报告"))
        self.assertEqual(typ, "OK")
        # made in IMAP, seen in the web app
        self.assertEqual(m.create('"%s"' % mutf7("客户/华为 & 中兴"))[0], "OK")
        paths = [f["path"] for f in s.get("/api/v1/folders").json()["items"]]
        self.assertIn("客户/华为 & 中兴", paths)
        self.assertEqual(m.rename('"%s"' % mutf7("客户/华为 & 中兴"), '"%s"' % mutf7("客户/联想"))[0], "OK")
        paths = [f["path"] for f in s.get("/api/v1/folders").json()["items"]]
        self.assertIn("客户/联想", paths)
        self.assertEqual(m.delete('"%s"' % mutf7("客户"))[0], "NO")  # has children
        self.assertEqual(m.delete('"%s"' % mutf7("客户/联想"))[0], "OK")
        typ, data = m.status('"%s"' % mutf7("项目"), "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"MESSAGES 0", data[0])
        self.assertEqual(m.select("Nonexistent")[0], "NO")
        m.logout()

    def test_special_use_and_namespace(self):
        m = imaps()
        typ, data = m.list('""', "*")
        joined = b"\n".join(data)
        for attr, name in ((b"\\Sent", b"Sent"), (b"\\Trash", b"Trash"), (b"\\Drafts", b"Drafts"),
                           (b"\\Junk", b"Junk"), (b"\\Archive", b"Archive")):
            self.assertRegex(joined, rb"\(.*" + re.escape(attr) + rb".*\) \"/\" \"" + name)
        typ, data = m.list('""', "%")
        self.assertTrue(all(b"/" not in d.split(b'"/" ')[1] for d in data))
        typ, data = m.namespace()
        self.assertEqual(data[0], b'(("" "/")) NIL NIL')
        typ, data = m.lsub()
        self.assertEqual(typ, "OK")
        self.assertEqual(m.select("inbox")[0], "OK")  # INBOX in any case
        m.logout()

    def test_append_literals(self):
        r = Raw()
        self.assertTrue(r.cmd("l", "LOGIN %s %s" % ALICE[:2])[-1].startswith(b"l OK"))
        msg = b"From: a@example.test\r\nSubject: literal plus\r\n\r\nbody\r\n"
        # LITERAL+: no continuation
        r.send(b"a1 APPEND INBOX (\\Flagged) {%d+}\r\n" % len(msg) + msg + b"\r\n")
        out = r.until("a1")
        self.assertRegex(out[-1], rb"a1 OK \[APPENDUID \d+ \d+\]")
        # synchronizing literal: wait for "+"
        r.send(b"a2 APPEND INBOX {%d}\r\n" % len(msg))
        self.assertTrue(r.line().startswith(b"+"))
        r.send(msg + b"\r\n")
        self.assertTrue(r.until("a2")[-1].startswith(b"a2 OK"))
        r.send('a3 APPEND INBOX "25-Dec-2023 08:30:00 +0800" {%d+}\r\n' % len(msg))
        r.send(msg + b"\r\n")
        self.assertTrue(r.until("a3")[-1].startswith(b"a3 OK"))
        out = r.cmd("s", "SELECT INBOX")
        uid = int(re.search(rb"UIDNEXT (\d+)", b"\n".join(out)).group(1)) - 1
        out = r.cmd("f", "UID FETCH %d (INTERNALDATE)" % uid)
        self.assertIn(b'INTERNALDATE "25-Dec-2023 08:30:00 +0800"', out[0])
        self.assertTrue(r.cmd("n", "APPEND Missing {1+}\r\nx")[-1].startswith(b"n NO [TRYCREATE]"))
        r.close()


def readf(p):
    with open(p, "rb") as f:
        return f.read()


def corpus_files():
    out = []
    for p in sorted(glob.glob(os.path.join(CORPUS, "**", "*"), recursive=True)):
        if not os.path.isfile(p) or "LICENSE" in p or p.endswith((".json", ".golden", ".txt",
                                                                  ".png", ".wav", ".jpg")):
            continue
        if "/dkim/" in p or "/gmime-charsets/" in p:
            continue
        size = os.path.getsize(p)
        if 0 < size < 4 << 20:
            out.append(p)
    return out


def parse_bs(s):
    """Parse an IMAP parenthesised list (BODYSTRUCTURE/ENVELOPE) into nested Python lists."""
    pos = 0

    def val():
        nonlocal pos
        while s[pos:pos + 1] == b" ":
            pos += 1
        c = s[pos:pos + 1]
        if c == b"(":
            pos += 1
            items = []
            while True:
                while s[pos:pos + 1] == b" ":
                    pos += 1
                if s[pos:pos + 1] == b")":
                    pos += 1
                    return items
                items.append(val())
        if c == b'"':
            pos += 1
            out = b""
            while s[pos:pos + 1] != b'"':
                if s[pos:pos + 1] == b"\\":
                    pos += 1
                out += s[pos:pos + 1]
                pos += 1
            pos += 1
            return out
        if c == b"{":
            end = s.index(b"}", pos)
            n = int(s[pos + 1:end].lstrip(b"~").strip(b"+"))
            pos = end + 3
            out = s[pos:pos + n]
            pos += n
            return out
        m = re.compile(rb"[^ ()]+").match(s, pos)
        pos = m.end()
        return None if m.group(0) == b"NIL" else m.group(0)
    return val()


def fetch_raw(raw, tag, text):
    """A FETCH through Raw, literals collected: returns the response bytes with literals
    inlined as {n}\\r\\n<bytes>."""
    raw.send("%s %s\r\n" % (tag, text))
    out = b""
    while True:
        ln = raw.line()
        if ln.startswith(tag.encode() + b" "):
            return out, ln
        out += ln
        m = re.search(rb"\{(\d+)\}$", ln)
        while m:
            n = int(m.group(1))
            while len(raw.buf) < n:
                raw.buf += raw.s.recv(65536)
            out += b"\r\n" + raw.buf[:n]
            raw.buf = raw.buf[n:]
            ln = raw.line()
            out += ln
            m = re.search(rb"\{(\d+)\}$", ln)


class Corpus(unittest.TestCase):
    """Every corpus message: APPEND, then BODY[], RFC822.SIZE, BODYSTRUCTURE, ENVELOPE, BODY[1],
    BINARY[1], compared with the file and with Python's email package where they agree."""

    def test_corpus(self):
        files = corpus_files()
        self.assertGreater(len(files), 150)
        s = web(CAROL)
        r = s.post("/api/v1/folders", {"name": "corpus"})
        self.assertEqual(r.status, 201)
        raw = Raw()
        raw.cmd("l", "LOGIN %s %s" % CAROL[:2])
        uids = {}
        for i, p in enumerate(files):
            data = readf(p)
            lit = "~{%d+}" if b"\0" in data else "{%d+}"
            raw.send(("a%d APPEND corpus " % i + lit + "\r\n") % len(data))
            raw.send(data + b"\r\n")
            ln = raw.until("a%d" % i)[-1]
            m = re.search(rb"APPENDUID \d+ (\d+)", ln)
            if m:
                uids[p] = int(m.group(1))
            else:
                # refused only for a stated reason (a MIME limit)
                self.assertRegex(ln, rb"NO \[(LIMIT|CANNOT)\]", (p, ln))
        self.assertGreater(len(uids), len(files) * 0.9)
        raw.cmd("s", "EXAMINE corpus")
        checked_env = checked_bin = 0
        for p, uid in uids.items():
            data = readf(p)
            resp, tagged = fetch_raw(raw, "f", "UID FETCH %d (RFC822.SIZE BODY.PEEK[] BODYSTRUCTURE"
                                     " ENVELOPE BODY.PEEK[HEADER] BODY.PEEK[1])" % uid)
            self.assertTrue(tagged.startswith(b"f OK"), (p, tagged))
            self.assertIn(b"RFC822.SIZE %d " % len(data), resp, p)
            self.assertIn(b"BODY[] {%d}\r\n" % len(data) + data, resp, p)
            bs = resp[resp.index(b"BODYSTRUCTURE ") + 14:]
            tree = parse_bs(bs)
            self.assertIsInstance(tree, list, p)
            msg = email.message_from_bytes(data, policy=email.policy.compat32)
            top = msg.get_content_type()
            if isinstance(tree[0], list):
                self.assertEqual(msg.get_content_maintype(), "multipart", p)
                sub = [t for t in tree if not isinstance(t, list)][0]
                self.assertEqual(sub.lower(), msg.get_content_subtype().encode(), p)
            elif msg.get_content_maintype() != "multipart" and b"Content-Type" in data[:data.find(b"\n\n") if b"\n\n" in data else len(data)]:
                got = (tree[0] + b"/" + tree[1]).decode().lower()
                # compared where both readings agree the header is well-formed (a barren
                # "Content-Type: ;" is text/plain to Python, application/octet-stream to GMime)
                if top in ("text/plain", "text/html", "application/pdf", "image/png") and \
                        re.match(r"\s*[\w.+-]+/[\w.+-]+", str(msg.get("Content-Type", ""))):
                    self.assertEqual(got, top, p)
            env = parse_bs(resp[resp.index(b"ENVELOPE ") + 9:])
            self.assertEqual(len(env), 10, p)
            subj = msg.get("Subject")
            if subj is not None and env[1] is not None and b"=?" not in env[1] and \
                    all(c < 0x80 for c in env[1]):
                want = re.sub(r"\s+", " ", str(subj)).strip()
                self.assertEqual(re.sub(r"\s+", " ", env[1].decode()).strip(), want, p)
                checked_env += 1
            if not msg.is_multipart() and msg.get("Content-Transfer-Encoding", "").lower() in (
                    "base64", "quoted-printable"):
                resp2, _ = fetch_raw(raw, "b", "UID FETCH %d (BINARY.PEEK[1])" % uid)
                m = re.search(rb"BINARY\[1\] ~?\{(\d+)\}\r\n", resp2)
                self.assertIsNotNone(m, p)
                body = resp2[m.end():m.end() + int(m.group(1))]
                want = msg.get_payload(decode=True)
                if want is not None and len(want) > 0 and b"\r" not in want:
                    self.assertEqual(body.replace(b"\r\n", b"\n"), want.replace(b"\r\n", b"\n"), p)
                    checked_bin += 1
        self.assertGreater(checked_env, 80)
        self.assertGreater(checked_bin, 5)
        raw.close()

    def test_sections_by_hand(self):
        """A nested message checked by hand: parts, .MIME, .HEADER, .TEXT, partials."""
        msg = (b"From: A <a@example.test>\r\nTo: b@example.test\r\nSubject: nested\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
               b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst part\r\n"
               b"--XX\r\nContent-Type: message/rfc822\r\n\r\n"
               b"Subject: inner\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n"
               b"--YY\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n"
               b"--YY\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               b"PGI+aGk8L2I+\r\n--YY--\r\n"
               b"\r\n--XX--\r\n")
        m = imaps(BOB)
        m.append("INBOX", None, None, msg)
        m.select("INBOX")
        typ, data = m.uid("SEARCH", "SUBJECT", "nested")
        uid = data[0].split()[-1]

        def sect(s):
            typ, d = m.uid("FETCH", uid, "(BODY.PEEK[%s])" % s)
            self.assertEqual(typ, "OK")
            return d[0][1] if isinstance(d[0], tuple) else b""
        self.assertEqual(sect("1"), b"first part")
        self.assertEqual(sect("1.MIME"), b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
        self.assertEqual(sect("2.HEADER"), b"Subject: inner\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n")
        self.assertEqual(sect("2.1"), b"inner plain")
        self.assertEqual(sect("2.2"), b"PGI+aGk8L2I+")
        self.assertEqual(sect("2.HEADER.FIELDS (SUBJECT)"), b"Subject: inner\r\n\r\n")
        self.assertTrue(sect("2.TEXT").startswith(b"--YY"))
        typ, d = m.uid("FETCH", uid, "(BINARY.PEEK[2.2] BINARY.SIZE[2.2] BODY.PEEK[1]<2.3>)")
        flat = b"".join(x if isinstance(x, bytes) else x[0] + x[1] for x in d)
        self.assertIn(b"<b>hi</b>", flat)
        self.assertIn(b"BINARY.SIZE[2.2] 9", flat)
        self.assertIn(b"BODY[1]<2> {3}", flat)
        typ, d = m.uid("FETCH", uid, "(BODYSTRUCTURE)")
        bs = parse_bs(d[0][d[0].index(b"BODYSTRUCTURE ") + 14:])
        self.assertEqual(bs[0][:2], [b"text", b"plain"])
        self.assertEqual(bs[1][:2], [b"message", b"rfc822"])
        inner = bs[1][8]
        self.assertEqual(inner[0][:2], [b"text", b"plain"])
        self.assertEqual(inner[1][:2], [b"text", b"html"])
        self.assertEqual(inner[2], b"alternative")
        self.assertEqual(bs[2], b"mixed")
        # \Seen is set by BODY[] (not PEEK)
        typ, d = m.uid("FETCH", uid, "(BODY[1])")
        self.assertIn(b"\\Seen", b" ".join(x[0] if isinstance(x, tuple) else x for x in d))
        m.logout()


class Flags(unittest.TestCase):
    def test_store_keywords_colours_in_web(self):
        s = web()
        m = imaps()
        m.append("INBOX", None, None, b"From: x@example.test\r\nSubject: colours\r\n\r\nhi\r\n")
        m.select("INBOX")
        uid = m.uid("SEARCH", "SUBJECT", "colours")[1][0].split()[-1]
        typ, d = m.uid("STORE", uid, "+FLAGS", r"(\Seen \Flagged $label3 $Pinned ProjectX)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"$label3", d[0])
        inbox = [f for f in s.get("/api/v1/folders").json()["items"] if f["role"] == "inbox"][0]
        items = s.get("/api/v1/messages?folder=%d" % inbox["id"]).json()["items"]
        it = [i for i in items if i["uid"] == int(uid)][0]
        self.assertIn("seen", it["flags"])
        self.assertIn("flagged", it["flags"])
        self.assertEqual(it["colour"], "green")  # $label3: Thunderbird's green "Personal"
        self.assertTrue(it["pinned"])
        self.assertEqual(it["keywords"], ["ProjectX"])
        # the web app changes the colour: IMAP sees $label4 (blue)
        r = s.req("PATCH", "/api/v1/messages", body={"ids": [it["id"]], "colour": "blue"})
        self.assertEqual(r.status, 200, r)
        typ, d = m.uid("FETCH", uid, "(FLAGS)")
        self.assertIn(b"$label4", d[0])
        self.assertNotIn(b"$label3", d[0])
        typ, d = m.uid("STORE", uid, "-FLAGS", r"($label4 $Pinned ProjectX)")
        typ, d = m.uid("FETCH", uid, "(FLAGS)")
        self.assertNotIn(b"$label", d[0])
        self.assertNotIn(b"$Pinned", d[0])
        it = [i for i in s.get("/api/v1/messages?folder=%d" % inbox["id"]).json()["items"]
              if i["uid"] == int(uid)][0]
        self.assertIsNone(it["colour"])
        self.assertFalse(it["pinned"])
        self.assertEqual(it["keywords"], [])
        with self.assertRaises(imaplib.IMAP4.error):
            m.uid("STORE", uid, "FLAGS", r"(\Recent)")
        m.logout()

    def test_copy_move_copyuid(self):
        m = imaps(BOB)
        for i in range(3):
            m.append("INBOX", None, None, b"Subject: mv %d\r\n\r\nx\r\n" % i)
        m.select("INBOX")
        uids = m.uid("SEARCH", "SUBJECT", "mv")[1][0].split()
        typ, d = m.uid("COPY", b",".join(uids[:2]).decode(), "Archive")
        self.assertEqual(typ, "OK")
        self.assertRegex(m.response("COPYUID")[1][0], rb"^\d+ [\d:,]+ [\d:,]+$")
        typ, d = m._simple_command("UID", "MOVE", uids[2].decode(), "Trash")
        self.assertEqual(typ, "OK")
        self.assertTrue(any(b"COPYUID" in x for x in m.untagged_responses.get("OK", [])))
        self.assertIn("EXPUNGE", m.untagged_responses)
        self.assertEqual(m.uid("SEARCH", "UID", uids[2].decode())[1], [b""])
        m.select("Archive")
        self.assertEqual(len(m.search(None, "SUBJECT", "mv")[1][0].split()), 2)
        m.logout()

    def test_expunge_and_restore(self):
        m = imaps(CAROL)
        m.append("INBOX", None, None, b"Subject: doomed\r\nMessage-ID: <doomed@x>\r\n\r\nbye\r\n")
        m.select("INBOX")
        uid = m.uid("SEARCH", "SUBJECT", "doomed")[1][0].split()[-1]
        m.uid("STORE", uid, "+FLAGS", r"(\Deleted)")
        typ, d = m.expunge()
        self.assertEqual(typ, "OK")
        self.assertEqual(m.uid("SEARCH", "SUBJECT", "doomed")[1], [b""])
        m.logout()
        cp = SRV.cli("restore", "--data", SRV.data, CAROL[0])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        m = imaps(CAROL)
        m.select("INBOX")
        got = m.uid("SEARCH", "HEADER", "Message-ID", "doomed@x")[1][0].split()
        self.assertEqual(len(got), 1)
        self.assertGreater(int(got[0]), int(uid))  # back with a new UID
        m.logout()


class Condstore(unittest.TestCase):
    def test_condstore_qresync(self):
        r = Raw()
        r.cmd("l", "LOGIN %s %s" % BOB[:2])
        self.assertIn(b"* ENABLED QRESYNC", b"\n".join(r.cmd("e", "ENABLE QRESYNC")))
        for i in range(4):
            msg = b"Subject: qr %d\r\n\r\nx\r\n" % i
            r.send(b"a APPEND Drafts {%d+}\r\n" % len(msg) + msg + b"\r\n")
            r.until("a")
        out = b"\n".join(r.cmd("s", "SELECT Drafts"))
        v = int(re.search(rb"UIDVALIDITY (\d+)", out).group(1))
        ms = int(re.search(rb"HIGHESTMODSEQ (\d+)", out).group(1))
        uids = [int(x) for x in r.cmd("u", "UID SEARCH ALL")[0].split()[2:]]
        r.cmd("d", "UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[0])
        out = r.cmd("x", "EXPUNGE")
        self.assertTrue(any(ln.startswith(b"* VANISHED ") for ln in out), out)
        r.cmd("f", "UID STORE %d +FLAGS.SILENT (\\Answered)" % uids[1])
        out = r.cmd("c", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % ms)
        self.assertEqual(len([ln for ln in out if ln.startswith(b"* ")]), 1, out)
        self.assertIn(b"MODSEQ (", out[0])
        # conditional store refused for a message changed since
        out = r.cmd("k", "UID STORE %d,%d (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % (uids[1], uids[2], ms))
        self.assertRegex(out[-1], rb"k OK \[MODIFIED %d\]" % uids[1])
        r.cmd("un", "UNSELECT")
        out = r.cmd("q", "SELECT Drafts (QRESYNC (%d %d))" % (v, ms))
        joined = b"\n".join(out)
        self.assertIn(b"* VANISHED (EARLIER) %d" % uids[0], joined)
        self.assertRegex(joined, rb"FETCH \(UID %d .*\\Answered" % uids[1])
        out = r.cmd("vf", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % ms)
        self.assertIn(b"* VANISHED (EARLIER) %d" % uids[0], b"\n".join(out))
        out = r.cmd("ms", "SEARCH MODSEQ %d" % (ms + 1))
        self.assertIn(b"(MODSEQ ", out[0])
        r.close()


class Search(unittest.TestCase):
    def test_search_chinese_and_keys(self):
        m = imaps(BOB)
        body = "关于第三季度销售报告的讨论，请查收附件。".encode("utf-8")
        msg = (b"From: =?UTF-8?B?" + base64.b64encode("王经理".encode()) + b"?= <wang@example.test>\r\n"
               b"To: bob@example.test\r\nSubject: =?UTF-8?B?" + base64.b64encode("季度报告".encode()) +
               b"?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
               body + b"\r\n")
        m.append("Junk", None, None, msg)
        m.append("Junk", r"(\Seen)", None, b"Subject: english only\r\nFrom: z@example.test\r\n\r\nquarterly meeting notes\r\n")
        m.select("Junk")  # just appended: the search must not miss them while indexing
        m.literal = "销售报告".encode()
        typ, d = m.search("UTF-8", "TEXT")
        self.assertEqual(typ, "OK")
        self.assertEqual(len(d[0].split()), 1, d)
        m.literal = "季度".encode()
        self.assertEqual(len(m.search("UTF-8", "SUBJECT")[1][0].split()), 1)
        m.literal = "王经理".encode()
        self.assertEqual(len(m.search("UTF-8", "FROM")[1][0].split()), 1)
        self.assertEqual(len(m.search(None, "BODY", "quarterly")[1][0].split()), 1)
        self.assertEqual(len(m.search(None, "FROM", "wang@example.test")[1][0].split()), 1)
        self.assertEqual(len(m.search(None, "UNSEEN")[1][0].split()), 1)
        self.assertEqual(len(m.search(None, "OR", "SEEN", "UNSEEN")[1][0].split()), 2)
        self.assertEqual(len(m.search(None, "NOT", "(SUBJECT", "english)")[1][0].split()), 1)
        self.assertEqual(len(m.search(None, "LARGER", "100")[1][0].split()), 1)
        self.assertEqual(len(m.search(None, "SINCE", "1-Jan-2000")[1][0].split()), 2)
        self.assertEqual(m.search(None, "BEFORE", "1-Jan-2000")[1], [b""])
        self.assertEqual(m.search("GB2312", "ALL")[0], "NO")
        # the same query straight after an APPEND, with a quoted Chinese string
        m.append("Junk", None, None, "Subject: 新的\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n出差申请单\r\n".encode())
        m.logout()
        r = Raw()
        r.cmd("l", "LOGIN %s %s" % BOB[:2])
        r.cmd("s", "SELECT Junk")
        out = r.cmd("q", 'SEARCH CHARSET UTF-8 BODY "出差申请"')
        self.assertTrue(out[-1].startswith(b"q OK"), out)
        self.assertEqual(len(out[0].split()), 3, out)
        r.close()


class Idle(unittest.TestCase):
    def idle_client(self, user):
        r = Raw()
        r.cmd("l", "LOGIN %s %s" % user[:2])
        r.cmd("s", "SELECT INBOX")
        r.send("i IDLE\r\n")
        self.assertTrue(r.line().startswith(b"+"))
        return r

    def wait_for(self, r, pattern, timeout=5):
        r.s.settimeout(timeout)
        t0 = time.monotonic()
        while True:
            ln = r.line()
            if re.search(pattern, ln):
                return time.monotonic() - t0, ln

    def test_idle_latency_http_upload(self):
        r = self.idle_client(ALICE)
        s = web()
        inbox = [f for f in s.get("/api/v1/folders").json()["items"] if f["role"] == "inbox"][0]
        t0 = time.monotonic()
        resp = s.req("POST", "/api/v1/folders/%d/messages" % inbox["id"],
                     headers={"Content-Type": "message/rfc822"},
                     body=b"Subject: pushed\r\n\r\nhello\r\n")
        self.assertEqual(resp.status, 201, resp)
        _, ln = self.wait_for(r, rb"^\* \d+ EXISTS")
        latency = time.monotonic() - t0
        print("\n  IDLE latency, HTTP upload -> EXISTS: %.1f ms" % (latency * 1000), file=sys.stderr)
        self.assertLess(latency, 1.0)
        r.send("DONE\r\n")
        self.assertTrue(r.until("i")[-1].startswith(b"i OK"))
        r.close()

    def test_idle_latency_other_session_flag(self):
        r = self.idle_client(ALICE)
        m = imaps()
        m.append("INBOX", None, None, b"Subject: flag me\r\n\r\nx\r\n")
        self.wait_for(r, rb"EXISTS")
        m.select("INBOX")
        uid = m.uid("SEARCH", "SUBJECT", '"flag me"')[1][0].split()[-1]
        t0 = time.monotonic()
        m.uid("STORE", uid, "+FLAGS", r"(\Flagged)")
        _, ln = self.wait_for(r, rb"FETCH \(FLAGS \(.*\\Flagged")
        latency = time.monotonic() - t0
        print("\n  IDLE latency, other session STORE -> FETCH: %.1f ms" % (latency * 1000),
              file=sys.stderr)
        self.assertLess(latency, 1.0)
        # an expunge elsewhere reaches the idler as EXPUNGE
        m.uid("STORE", uid, "+FLAGS", r"(\Deleted)")
        m.expunge()
        self.wait_for(r, rb"^\* \d+ EXPUNGE")
        r.send("DONE\r\n")
        r.until("i")
        m.logout()
        r.close()


class Hostile(unittest.TestCase):
    def assert_alive(self):
        m = imaps()
        self.assertEqual(m.noop()[0], "OK")
        m.logout()

    def test_hostile_inputs(self):
        pid = SRV.pid
        rss0 = rss_kb(pid)
        # huge literal announcements before login: refused, nothing is waited for
        for lit in ("{4294967296}", "{18446744073709551616}", "{99999999999999999999999}"):
            r = Raw()
            out = r.cmd("a", "LOGIN " + lit)
            self.assertRegex(out[-1], rb"a (NO|BAD) \[TOOBIG\]")
            r.close()
        r = Raw()
        self.assertTrue(r.cmd("b", "LOGIN {-1}")[-1].startswith(b"b BAD"))
        # a literal before login larger than the pre-auth cap
        self.assertRegex(r.cmd("c", "LOGIN {100000}")[-1], rb"c NO \[TOOBIG\]")
        r.send("d LOGIN {100000+}\r\n")
        out = []
        try:
            while True:
                out.append(r.line())
        except (EOFError, OSError):
            pass
        self.assertTrue(any(b"BYE" in ln for ln in out), out)
        r.close()
        # 10,000 nested parentheses, NUL in a quoted string
        r = Raw()
        r.cmd("l", "LOGIN %s %s" % ALICE[:2])
        r.cmd("s", "SELECT INBOX")
        self.assertTrue(r.cmd("n", "SEARCH " + "(" * 10000 + "ALL" + ")" * 10000)[-1].startswith(b"n BAD"))
        r.send(b'q SEARCH SUBJECT "a\0b"\r\n')
        self.assertTrue(r.until("q")[-1].startswith(b"q BAD"))
        # a 100 KB line: a clean BYE. The server answers at 64 KB while the rest is still on
        # its way; it reads and discards that rest before it closes (a lingering close), so
        # the BYE is not lost to a reset. Should the send fail anyway, the BYE is still due.
        try:
            r.send("x " + "A" * 100000 + "\r\n")
        except OSError:
            pass
        out = []
        try:
            while True:
                out.append(r.line())
        except (EOFError, OSError):
            pass
        self.assertTrue(any(ln.startswith(b"* BYE") for ln in out), out[:3])
        r.close()
        # garbage, many connections
        for junk in (b"\r\n", b"GET / HTTP/1.1\r\n\r\n", b"a\x00b NOOP\r\n", b"* OK\r\n",
                     b"a UID\r\n", b"a FETCH\r\n", b"a LOGIN \"\r\n", b"a SELECT (((\r\n"):
            r = Raw()
            r.send(junk)
            r.send(b"z LOGOUT\r\n")
            try:
                r.until("z")
            except (EOFError, OSError):
                pass
            r.close()
        self.assert_alive()
        self.assertLess(rss_kb(pid) - rss0, 64 * 1024, "RSS grew by more than 64 MiB")

    def test_bye_reaches_a_client_still_sending(self):
        # The server answers a line past the 64 KB limit with BYE while the client is still
        # sending it. It must keep reading (and discarding) after the BYE instead of closing
        # with unread input: that close is a TCP reset, which fails the client's send and can
        # destroy the BYE before it is read. Then it ends the stream, so the client sees EOF.
        for _ in range(3):
            r = Raw()
            r.cmd("l", "LOGIN %s %s" % ALICE[:2])
            r.send("x " + "A" * 70000)
            time.sleep(0.3)  # the BYE is out and the session is closing
            r.send("A" * 200000 + "\r\n")  # must not fail
            out = []
            t0 = time.monotonic()
            with self.assertRaises(EOFError):
                while True:
                    out.append(r.line())
            self.assertLess(time.monotonic() - t0, 5)
            self.assertTrue(any(ln.startswith(b"* BYE Line too long") for ln in out), out[:3])
            r.close()
        self.assert_alive()

    def test_commands_per_second_are_paced(self):
        r = Raw()
        r.cmd("l", "LOGIN %s %s" % ALICE[:2])
        t0 = time.monotonic()
        r.send("".join("n%d NOOP\r\n" % i for i in range(600)))
        r.until("n599")
        # 200 per second with a burst of 200: 600 need about two seconds
        self.assertGreater(time.monotonic() - t0, 1.5)
        r.close()


if __name__ == "__main__":
    h.main()
