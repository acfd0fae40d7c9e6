"""Inbound authentication end to end: a dnsmasq started here serves SPF, DKIM and DMARC
records of test domains, the server's [dns] points at it, and mail arrives on port 25 from
Python's smtplib. DMARC p=reject is refused with 550 5.7.1, p=quarantine lands in Junk,
a message DKIM-signed by an independent signer (dkimpy, Debian's python3-dkim) passes and
lands in the Inbox with an Authentication-Results header saying so, and our own outgoing
signature (yizhan domain dkim) verifies with dkimpy.

The client is on loopback, which libspf2 always passes; so the SPF domain (MAIL FROM) is
chosen apart from the From domain, and DMARC has to come from DKIM alignment or fail.
"""

import email
import email.policy
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest

import yzharness as yz

import dkim
from aiosmtpd.controller import Controller

D = yz.DOMAIN
RUTH = ("ruth@" + D, "ruth-password-1", "user", "Ruth")
SRV = None
DNS = None
KEY = None
RCV = None
GOT = []


class Keep:
    async def handle_DATA(self, server, session, envelope):
        GOT.append(envelope.content)
        return "250 2.0.0 kept"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dkim_pubkey_record(pem):
    der = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    import base64
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def txt_record(name, value):
    # dnsmasq wants long values split into strings of at most 255 characters
    parts = [value[i:i + 250] for i in range(0, len(value), 250)]
    return "txt-record=%s,%s" % (name, ",".join('"%s"' % p for p in parts))


def setUpModule():
    global SRV, DNS, KEY
    KEY = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                          "rsa_keygen_bits:2048"], capture_output=True, check=True).stdout
    tmp = tempfile.mkdtemp(prefix="yzdns-")
    zone = os.path.join(tmp, "zone.conf")
    port = free_udp_port()
    with open(zone, "w") as f:
        f.write("local=/dmarc.test/\nlocal=/quar.test/\nlocal=/signed.test/\nlocal=/relay.test/\n")
        f.write("local=/%s/\n" % D)
        f.write('txt-record=_dmarc.dmarc.test,"v=DMARC1; p=reject"\n')
        f.write('txt-record=_dmarc.quar.test,"v=DMARC1; p=quarantine"\n')
        f.write('txt-record=_dmarc.signed.test,"v=DMARC1; p=reject"\n')
        f.write('txt-record=relay.test,"v=spf1 -all"\n')
        # reverse names of the loopback clients: 127.0.0.1 maps back (forward-confirmed),
        # 127.0.0.3 names a host whose address is another one, 127.0.0.4 has no PTR
        f.write("ptr-record=1.0.0.127.in-addr.arpa,mx1.relay.test\n")
        f.write("host-record=mx1.relay.test,127.0.0.1\n")
        f.write("ptr-record=3.0.0.127.in-addr.arpa,liar.relay.test\n")
        f.write("host-record=liar.relay.test,192.0.2.7\n")
        f.write(txt_record("s1._domainkey.signed.test", dkim_pubkey_record(KEY)) + "\n")
    DNS = subprocess.Popen(["/usr/sbin/dnsmasq", "--no-daemon", "--port=%d" % port,
                            "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                            "--no-hosts", "--conf-file=" + zone, "--user=root"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    DNS.tmp = tmp
    time.sleep(0.3)
    global RCV
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        rport = probe.getsockname()[1]
    RCV = Controller(Keep(), hostname="127.0.0.1", port=rport)
    RCV.start()
    SRV = yz.offline_server(users=[RUTH], name="test_smtp_mailauth")
    yz.conf_append(SRV.data, "dns", {"servers": "127.0.0.1:%d" % port, "timeout": 2})
    yz.conf_append(SRV.data, "queue", {"relay_host": "127.0.0.1", "relay_port": rport})
    SRV.launch()


def tearDownModule():
    if RCV:
        RCV.stop()
    if SRV:
        SRV.stop()
    if DNS:
        DNS.send_signal(signal.SIGTERM)
        DNS.wait(5)
        shutil.rmtree(DNS.tmp, ignore_errors=True)


def message(frm, subject, body="hello\r\n"):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 1 Jan 2024 10:00:00 +0800\r\n"
            "Message-ID: <%s@test>\r\n\r\n%s" % (frm, RUTH[0], subject,
                                                  subject.replace(" ", "."), body)).encode()


def send(raw, mail_from="bounce@relay.test"):
    with smtplib.SMTP("127.0.0.1", SRV.base + 25, timeout=20) as s:
        s.ehlo("client.test")
        return s.sendmail(mail_from, [RUTH[0]], raw)


def messages(session, role):
    folders = session.get("/api/v1/folders").json()["items"]
    fid = [f["id"] for f in folders if f["role"] == role][0]
    return session.get("/api/v1/messages?folder=%d&limit=100" % fid).json()["items"]


def wait_for(session, role, subject, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [m for m in messages(session, role) if m["subject"] == subject]
        if got:
            return got[0]
        time.sleep(0.2)
    return None


class Inbound(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = yz.login(SRV, RUTH[0], RUTH[1])

    def test_dmarc_reject(self):
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            send(message("boss@dmarc.test", "forged boss"))
        self.assertEqual(cm.exception.smtp_code, 550)
        self.assertIn(b"5.7.1", cm.exception.smtp_error)
        self.assertIn(b"DMARC", cm.exception.smtp_error.upper())
        time.sleep(1)
        self.assertIsNone(wait_for(self.s, "inbox", "forged boss", timeout=1))

    def test_dmarc_quarantine_goes_to_junk(self):
        send(message("news@quar.test", "quarantined news"))
        m = wait_for(self.s, "junk", "quarantined news")
        self.assertIsNotNone(m, "not in Junk")
        self.assertIsNone(wait_for(self.s, "inbox", "quarantined news", timeout=1))
        raw = self.s.get("/api/v1/messages/%d/raw" % m["id"]).body
        ar = email.message_from_bytes(raw, policy=email.policy.default)["Authentication-Results"]
        self.assertIn("dmarc=fail", str(ar))

    def test_dkim_signed_by_others_passes(self):
        raw = message("ceo@signed.test", "signed by dkimpy")
        sig = dkim.sign(raw, b"s1", b"signed.test", KEY,
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        send(sig + raw)
        m = wait_for(self.s, "inbox", "signed by dkimpy")
        self.assertIsNotNone(m, "not delivered to the Inbox")
        raw_back = self.s.get("/api/v1/messages/%d/raw" % m["id"]).body
        ar = str(email.message_from_bytes(raw_back,
                                          policy=email.policy.default)["Authentication-Results"])
        self.assertIn("dkim=pass", ar)
        self.assertIn("header.d=signed.test", ar)
        self.assertIn("dmarc=pass", ar)
        # the same message with its body changed after signing is refused (p=reject)
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            send(sig + raw.replace(b"hello", b"hullo"))
        self.assertEqual(cm.exception.smtp_code, 550)

    def test_spf_result_of_a_pipelined_transaction(self):
        """MAIL is answered at once and SPF runs while the rest comes: with MAIL, RCPT, DATA,
        the message and QUIT in one write, the end of the message arrives before the SPF
        job is back, and still waits for it (spf=pass, not none, in the header)."""
        subject = "pipelined spf"
        body = message("news@relay.test", subject)
        with socket.create_connection(("127.0.0.1", SRV.base + 25), timeout=20) as c:
            f = c.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            c.sendall(b"EHLO client.test\r\n")
            while True:
                line = f.readline()
                self.assertTrue(line.startswith(b"250"), line)
                if line[3:4] == b" ":
                    break
            c.sendall(b"MAIL FROM:<bounce@relay.test>\r\nRCPT TO:<%s>\r\nDATA\r\n%s\r\n.\r\n"
                      b"QUIT\r\n" % (RUTH[0].encode(), body))
            replies = [f.readline()[:3] for _ in range(5)]
        self.assertEqual(replies, [b"250", b"250", b"354", b"250", b"221"])
        m = wait_for(self.s, "inbox", subject)
        self.assertIsNotNone(m, "not delivered")
        raw = self.s.get("/api/v1/messages/%d/raw" % m["id"]).body
        ar = str(email.message_from_bytes(raw, policy=email.policy.default)["Authentication-Results"])
        self.assertIn("spf=pass", ar)
        self.assertIn("smtp.mailfrom=bounce@relay.test", ar)

    def test_mail_rset_loop_is_answered_in_order(self):
        """A client looping MAIL and RSET without waiting gets every reply, in order, while
        the server keeps at most two SPF checks of the session running (a MAIL that comes
        while the previous one's check runs waits for its 250 until one is back)."""
        n = 60
        with socket.create_connection(("127.0.0.1", SRV.base + 25), timeout=20) as c:
            f = c.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            c.sendall(b"HELO client.test\r\n")
            self.assertTrue(f.readline().startswith(b"250"))
            c.sendall(b"".join(b"MAIL FROM:<loop%d@relay.test>\r\nRSET\r\n" % i
                               for i in range(n)) + b"NOOP\r\n")
            replies = [f.readline() for _ in range(2 * n + 1)]
        codes = [r[:3] for r in replies]
        self.assertEqual(codes, [b"250"] * (2 * n + 1), replies[:6])
        self.assertTrue(all(b"2.1.0" in r for r in replies[0:2 * n:2]), replies[:4])
        self.assertTrue(SRV.alive())

    def test_received_names_the_forward_confirmed_client(self):
        """Our Received field names the client by its reverse name only when that name's
        addresses include the client's (RFC 8601 "iprev"); else "unknown", as Postfix."""
        cases = (("127.0.0.1", "mx1.relay.test"), ("127.0.0.3", "unknown"),
                 ("127.0.0.4", "unknown"))
        if not yz.loopback_aliases_work():
            cases = cases[:1]
        for ip, name in cases:
            subject = "rdns from " + ip
            with smtplib.SMTP("127.0.0.1", SRV.base + 25, timeout=20,
                              source_address=(ip, 0)) as c:
                c.ehlo("helo-%s.client.test" % ip.replace(".", "-"))
                c.sendmail("bounce@relay.test", [RUTH[0]], message("news@relay.test", subject))
            m = wait_for(self.s, "inbox", subject)
            self.assertIsNotNone(m, "not delivered: " + subject)
            raw = self.s.get("/api/v1/messages/%d/raw" % m["id"]).body
            ours = email.message_from_bytes(raw).get_all("Received")[0]
            self.assertTrue(ours.startswith("from helo-%s.client.test (%s [%s])\r\n\tby "
                                            % (ip.replace(".", "-"), name, ip)), ours)

    def test_our_signature_verifies_independently(self):
        cp = SRV.cli_data("domain", "dkim", D, "--selector", "yz1")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        line = cp.stdout.strip().splitlines()[-1]
        self.assertTrue(line.startswith("yz1._domainkey.%s. IN TXT " % D), line)
        record = line.split(" IN TXT ", 1)[1].strip().strip('"')
        self.assertTrue(record.startswith("v=DKIM1; k=rsa; p="))
        # send through the web API to a remote address: the queued copy carries the signature
        r = self.s.post("/api/v1/messages/send", {"to": ["x@relay.test"], "subject": "签名测试",
                                                 "text": "正文"})
        self.assertEqual(r.status, 202, r)
        qid = r.json()["qid"]
        rows = yz.sql_read(os.path.join(SRV.data, "queue.db"),
                           "SELECT blob FROM messages WHERE qid = ?", (qid,))
        self.assertEqual(len(rows), 1)
        queued = yz.queued_body(SRV.data, rows[0][0])
        self.assertIn(b"DKIM-Signature:", queued)
        # dkimpy verifies it against the record we were told to publish
        self.assertTrue(dkim.verify(queued, dnsfunc=lambda name, timeout=5: record.encode()),
                        "dkimpy does not verify our signature")
        # mail a client hands in on 587 is signed on its way out
        import ssl
        ctx = ssl.create_default_context(cafile=os.path.join(SRV.data, "tls", "cert.pem"))
        before = len(GOT)
        with smtplib.SMTP("localhost", SRV.base + 587, timeout=20) as c:
            c.starttls(context=ctx)
            c.login(RUTH[0], RUTH[1])
            c.sendmail(RUTH[0], ["y@relay.test"],
                       ("From: %s\r\nTo: y@relay.test\r\nSubject: from a client\r\n"
                        "Message-ID: <client@test>\r\n\r\nsigned on the way\r\n"
                        % RUTH[0]).encode())
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(b"from a client" in m for m in GOT):
            time.sleep(0.2)
        found = [m for m in GOT if b"from a client" in m]
        self.assertTrue(found, "the relay did not get the submitted message")
        out = found[0]
        self.assertIn(b"DKIM-Signature:", out)
        self.assertTrue(dkim.verify(out, dnsfunc=lambda name, timeout=5: record.encode()),
                        "dkimpy does not verify the signature of submitted mail")


if __name__ == "__main__":
    yz.main()
