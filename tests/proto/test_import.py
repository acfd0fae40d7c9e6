#!/usr/bin/env python3
"""The mail commands (docs/API.md "Command line"): `yizhan import` of the whole mail corpus in
one run (count, skipped inputs with reasons, subjects through the API, the folder tree, a
second run storing nothing twice), mbox (mboxrd quoting, From_ dates, a folder of mbox files)
and Maildir (flags, new/, tmp/, Maildir++ subfolders) imports, `export` to mbox and Maildir
compared byte for byte with what went in, an import killed with SIGKILL and run again,
`check` on sound and damaged stores, `check --rebuild` after losing mail.db, `restore` of
expunged mail, `purge` + `gc`, and the help and usage errors of each command."""

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
import unittest
import urllib.parse

import yzharness as yz

D = yz.DOMAIN
CORPUS = os.path.join(yz.REPO, "tests", "data", "mail")

IMP = ("imp@" + D, "imp-password-1", "user", "导入")      # the corpus
DUP = ("dup@" + D, "dup-password-1", "user", "回导")      # the corpus again, from its export
BOX = ("box@" + D, "box-password-1", "user", "信箱")      # mbox and Maildir
RES = ("res@" + D, "res-password-1", "user", "恢复")      # restore
SA = ("sa@" + D, "sa-password-123", "sysadmin", "Sys Admin")

SRV = None


def setUpModule():
    global SRV
    SRV = yz.Server(users=[IMP, DUP, BOX, RES, SA], name="test_import")
    SRV.start()


def tearDownModule():
    if SRV:
        SRV.stop()


def signin(srv, u):
    return yz.login(srv, u[0], u[1], source_ip=srv.new_ip())


def cli(srv, *args, timeout=300):
    """`yizhan CMD --data DIR ARGS...`"""
    return srv.cli_data(*args, timeout=timeout)


def ok(tc, cp, what=""):
    tc.assertEqual(cp.returncode, 0, "%s: exit %d\nstdout: %s\nstderr: %s" % (
        what, cp.returncode, cp.stdout[-3000:], cp.stderr[-3000:]))
    return cp


SUMMARY = re.compile(r"^imported (\d+) messages \((\d+\.\d) MB\) into (\S+) in \d+\.\d s "
                     r"\(\d+ messages/s, \d+\.\d MB/s\)(?:; (\d+) already there)?$")


def summary(tc, cp):
    """(imported, already there, {skipped path: reason}) from an import's output."""
    lines = cp.stdout.splitlines()
    m = [SUMMARY.match(line) for line in lines]
    m = [x for x in m if x]
    tc.assertEqual(len(m), 1, "no summary line in %r" % cp.stdout[-2000:])
    skipped = {}
    if "skipped" in cp.stdout:
        i = [k for k, line in enumerate(lines) if re.match(r"^skipped \d+:$", line)]
        tc.assertEqual(len(i), 1, cp.stdout)
        n = int(re.match(r"^skipped (\d+):$", lines[i[0]]).group(1))
        for line in lines[i[0] + 1:i[0] + 1 + n]:
            mm = re.match(r"^  (.+): (\S.*)$", line)
            tc.assertIsNotNone(mm, "skipped line without a reason: %r" % line)
            skipped[mm.group(1)] = mm.group(2)
        tc.assertEqual(len(skipped), n, cp.stdout)
    return int(m[0].group(1)), int(m[0].group(4) or 0), skipped


# ---------------------------------------------------------------------------------------------
# What the corpus should become, worked out here independently


def is_from_line(line):
    """An mbox From_ line (RFC 4155): "From " and a sender, not the header "From :"."""
    return re.match(rb"^From [^\s:]", line) is not None


def mbox_split(data):
    """Messages of an mbox file as an mboxrd reader takes them: a From_ line starts one (at
    the start of the file or after an empty line), the empty line before the next From_ is
    the separator's, and one '>' comes off every '>+From ' line."""
    msgs, cur, prev_blank = [], None, True
    for line in data.splitlines(keepends=True):
        if prev_blank and line.startswith(b"From "):
            if cur is not None:
                msgs.append(b"".join(cur))
            cur = []
        elif cur is not None:
            cur.append(line)
        prev_blank = line in (b"\n", b"\r\n")
    if cur is not None:
        msgs.append(b"".join(cur))
    out = []
    for m in msgs:
        if m.endswith(b"\n\n"):
            m = m[:-1]
        elif m.endswith(b"\r\n\r\n"):
            m = m[:-2]
        out.append(unquote(m))
    return out


def unquote(m):
    return b"".join(line[1:] if re.match(rb"^>+From ", line) else line
                    for line in m.splitlines(keepends=True))


def read_export_mbox(data):
    """Messages of an mbox file `yizhan export` wrote: each followed by one newline (and one
    more if it did not end with one), every '>*From ' line inside quoted once more."""
    parts, cur = [], None
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From "):
            if cur is not None:
                parts.append(b"".join(cur))
            cur = []
        else:
            assert cur is not None, "an mbox export must start with a From_ line"
            cur.append(line)
    if cur is not None:
        parts.append(b"".join(cur))
    out = []
    for p in parts:
        assert p.endswith(b"\n"), "message without the separator's newline"
        out.append(unquote(p[:-1]))
    return out


def mboxed(raw):
    """How raw reads back from an mbox: a message needs a final newline there."""
    return raw if raw.endswith(b"\n") else raw + b"\n"


def looks_like_mail(data):
    """The first line is a header field: a name of printable ASCII, optional white space
    (RFC 5322 4.5 obsolete syntax), then ':'."""
    first = data.split(b"\n", 1)[0]
    return re.match(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:", first) is not None


def corpus_plan(root):
    """For a tree of .eml/.raw files: {folder path: [stored bytes, ...]} (one entry per
    distinct message per folder, in import order), the files that are not messages, and how
    many inputs repeat a message already in their folder."""
    plan, not_mail, dups = {}, [], 0
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for fn in sorted(files):
            path = os.path.join(dirpath, fn)
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            with open(path, "rb") as f:
                data = f.read()
            if is_from_line(data.split(b"\n", 1)[0]):
                folder, msgs = rel_dir + "/" + fn, mbox_split(data)
            else:
                folder, msgs = rel_dir, [data]
            for m in msgs:
                if not m or not looks_like_mail(m):
                    not_mail.append(path)
                    continue
                have = plan.setdefault(folder, [])
                if m in have:
                    dups += 1
                else:
                    have.append(m)
    return plan, not_mail, dups


def copy_corpus(dst):
    """Every .eml and .raw file of tests/data/mail, in the same tree."""
    n = 0
    for dirpath, _dirs, files in os.walk(CORPUS):
        for fn in files:
            if fn.endswith((".eml", ".raw")):
                src = os.path.join(dirpath, fn)
                out = os.path.join(dst, os.path.relpath(src, CORPUS))
                os.makedirs(os.path.dirname(out), exist_ok=True)
                shutil.copyfile(src, out)
                n += 1
    return n


def maildir_files(top):
    """{folder dir relative to top: [(name, bytes, mtime)]} of a Maildir++ tree."""
    out = {}
    for dirpath, dirs, files in os.walk(top):
        if os.path.basename(dirpath) not in ("cur", "new"):
            continue
        key = os.path.relpath(os.path.dirname(dirpath), top)
        for fn in files:
            p = os.path.join(dirpath, fn)
            with open(p, "rb") as f:
                out.setdefault(key, []).append((fn, f.read(), int(os.stat(p).st_mtime)))
    return out


def api_folders(tc, s):
    r = s.get("/api/v1/folders")
    tc.assertEqual(r.status, 200, r)
    return {f["path"]: f for f in r.json()["items"]}


def api_list(tc, s, folder):
    items, cursor = [], None
    while True:
        q = "/api/v1/messages?folder=%d&limit=500" % folder
        r = s.get(q + ("&cursor=" + cursor if cursor else ""))
        tc.assertEqual(r.status, 200, r)
        j = r.json()
        items += j["items"]
        cursor = j["next"]
        if cursor is None:
            return items


def blob_path(data, raw):
    h = hashlib.sha256(raw).hexdigest()
    return yz.blob_file(data, h)


# ---------------------------------------------------------------------------------------------
# Help and usage errors


class Commands(unittest.TestCase):
    CMDS = ["import", "export", "check", "restore", "reindex", "gc", "purge"]

    def test_help(self):
        for cmd in self.CMDS:
            with self.subTest(cmd=cmd):
                cp = yz.run_cli([cmd, "--help"], timeout=30)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertRegex(cp.stdout, r"(?m)^usage: yizhan %s " % cmd)
                self.assertIn("--data", cp.stdout)
                self.assertEqual(cp.stderr, "")

    def usage_error(self, args, what):
        cp = yz.run_cli(args, timeout=30)
        self.assertEqual(cp.returncode, 2, "%s: exit %d\n%s%s" % (what, cp.returncode,
                                                                 cp.stdout, cp.stderr))
        self.assertRegex(cp.stderr, r"^yizhan: \S", what)
        self.assertNotIn("imported", cp.stdout)
        return cp

    def test_usage_errors(self):
        d = SRV.data
        a = IMP[0]
        src = os.path.join(SRV.root, "usage-in")    # never read: each case fails first
        out = os.path.join(SRV.root, "usage-out")
        cases = [
            (["import"], "import without arguments"),
            (["import", "--data", d], "import without ADDRESS"),
            (["import", "--data", d, a], "import without PATH"),
            (["import", "--data", d, a, src, "--bogus"], "import --bogus"),
            (["import", "--data", d, a, src, "--folder"], "import --folder without NAME"),
            (["import", a, src], "import without --data"),
            (["export", "--data", d, a, out], "export without --format"),
            (["export", "--data", d, a, "--format", "zip", out], "export --format zip"),
            (["export", "--data", d, a, "--format", "mbox"], "export without OUT"),
            (["export", "--data", d, a, "--format", "mbox", out, "extra"],
             "export with two OUTs"),
            (["check", "--data", d, "--bogus"], "check --bogus"),
            (["check", "--data", d, "--rebuild"], "check --rebuild without ADDRESS"),
            (["check", "--data", d, "--rebuild", a, DUP[0]], "check --rebuild two ADDRESSES"),
            (["check"], "check without --data"),
            (["restore", "--data", d], "restore without ADDRESS"),
            (["restore", "--data", d, a, DUP[0]], "restore with two ADDRESSES"),
            (["restore", "--data", d, a, "--since", "last week"], "restore --since garbage"),
            (["restore", "--data", d, a, "--since", "2024-02-30x"], "restore --since bad date"),
            (["reindex", "--data", d, "--bogus"], "reindex --bogus"),
            (["gc", "--data", d, "--grace", "soon"], "gc --grace soon"),
            (["gc", "--data", d, "--grace", "-5"], "gc --grace -5"),
            (["gc", "--data", d, "extra"], "gc with an argument"),
            (["purge", "--data", d, "--bogus"], "purge --bogus"),
            (["purge", "--data", d, "extra"], "purge with an argument"),
        ]
        for args, what in cases:
            with self.subTest(what=what):
                self.usage_error(args, what)

    def test_failures_exit_1(self):
        d = SRV.data
        f = os.path.join(SRV.root, "one.eml")
        with open(f, "wb") as fh:
            fh.write(b"From: a@example.test\r\nSubject: x\r\n\r\nx\r\n")
        cases = [
            (["import", "--data", d, "nobody@" + D, f], "nobody@"),
            (["import", "--data", d, SA[0], f], "admin accounts have no mailbox"),
            (["import", "--data", os.path.join(SRV.root, "no-such-dir"), IMP[0], f],
             "not a data directory"),
            (["export", "--data", d, "nobody@" + D, "--format", "mbox",
              os.path.join(SRV.root, "x")], "nobody@"),
            (["export", "--data", d, BOX[0], "--format", "mbox", "--folder", "没有这个",
              os.path.join(SRV.root, "x.mbox")], "没有这个"),
            (["restore", "--data", d, "nobody@" + D], "nobody@"),
            (["restore", "--data", d, RES[0], "--folder", "没有这个"], "没有这个"),
            (["check", "--data", d, "--rebuild", "nobody@" + D], "nobody@"),
            (["reindex", "--data", d, "nobody@" + D], "nobody@"),
            (["check", "--data", d, "nobody@" + D], "nobody@"),
        ]
        for args, needle in cases:
            with self.subTest(args=" ".join(args[:1] + args[3:])):
                cp = yz.run_cli(args, timeout=60)
                self.assertEqual(cp.returncode, 1, "exit %d\n%s%s" % (cp.returncode, cp.stdout,
                                                                      cp.stderr))
                self.assertIn(needle, cp.stderr)
        cp = yz.run_cli(["import", "--data", d, IMP[0], os.path.join(SRV.root, "nothing")])
        self.assertEqual(cp.returncode, 0, "a missing PATH is a skipped input: %r" % (cp,))
        n, dup, skipped = summary(self, cp)
        self.assertEqual((n, dup), (0, 0))
        self.assertEqual(list(skipped), [os.path.join(SRV.root, "nothing")])
        self.assertIn("No such file", list(skipped.values())[0])


# ---------------------------------------------------------------------------------------------
# The corpus


# Subjects of corpus messages (decoded with Python's email package, checked by hand): the
# message is found in its folder by its stored size.
SUBJECTS = {
    "flanker/bilingual-simple.eml": "Simple text. How are you? Как ты поживаешь?",
    "mikel-mail/attachment_emails/attachment_with_quoted_filename.eml": "Eelanalüüsi päring",
    "mikel-mail/multi_charset/japanese.eml": "まみむめも",
    "mikel-mail/multi_charset/japanese_attachment_long_name.eml": "まみむめも" * 10,
    "mikel-mail/plain_emails/raw_email.eml": "NOTE: 한국말로 하는 것",
    "mikel-mail/plain_emails/raw_email_with_partially_quoted_subject.eml":
        'Re: Test: "漢字" mid "漢字" tail',
    "mikel-mail/rfc6532/utf8_headers.eml": "Säying Hello",
    "stalwart/thirdparty/010.eml": "こんにちは",
    "enmime/testdata/mail/qp-utf8-header.raw": "MIME UTF8 Test ¢ More Text",
    "enmime/testdata/mail/qp-ascii-header.raw": "Test QP Subject!",
    "mikel-mail/mime_emails/raw_email_encoded_stack_level_too_deep.eml":
        "Nicolas Fouché has accepted your invitation to Gmail",
    "mikel-mail/attachment_emails/attachment_pdf.eml":
        "Another PDF with 🎉 Unicode chars in it 🍿",
    "mikel-mail/error_emails/trademark_character_in_subject.eml": "GA.comô has a lead for you",
    "mikel-mail/rfc2822/example13.eml": "Saying Hello",  # RFC 2822 A.6.3: "From  :" etc.
    "stalwart/rfc/004.eml": "Internet Digest, volume 42",
    "flanker/torture.eml": "Multi-media mail demonstration",  # trailing space trimmed
    "flanker/long-links.eml": "Please enjoy this mega long link",
}


class Corpus(unittest.TestCase):
    """One import run of every .eml/.raw file of tests/data/mail."""

    @classmethod
    def setUpClass(cls):
        cls.src = os.path.join(SRV.root, "corpus")
        cls.nfiles = copy_corpus(cls.src)
        cls.plan, cls.not_mail, cls.dups = corpus_plan(cls.src)
        cls.cp = cli(SRV, "import", IMP[0], cls.src)
        cls.s = signin(SRV, IMP)

    def test_1_summary(self):
        cp = ok(self, self.cp, "import of the corpus")
        n, dup, skipped = summary(self, cp)
        want = sum(len(v) for v in self.plan.values())
        self.assertEqual(self.nfiles, 273, "the corpus changed: update the expectations")
        self.assertEqual(len(self.not_mail), 11)
        self.assertEqual(self.dups, 2)
        self.assertEqual(want, 260)
        self.assertEqual(sorted(skipped), sorted(self.not_mail),
                         "skipped inputs: %r" % skipped)
        for path, why in skipped.items():
            self.assertIn("header field", why, path)
        self.assertEqual((n, dup), (want, self.dups),
                         "imported N messages; K already there (identical files in one folder)")
        stored = sum(len(m) for v in self.plan.values() for m in v)
        self.assertIn("(%.1f MB)" % (stored / 1e6), cp.stdout)
        self.assertRegex(cp.stdout, r"(?m)^indexed %d messages in " % want)

    def test_2_folders_and_counts(self):
        got = api_folders(self, self.s)
        want = {path: len(msgs) for path, msgs in self.plan.items()}
        have = {p: f["total"] for p, f in got.items() if f["role"] is None and f["total"]}
        for path in sorted(set(have) | set(want)):
            with self.subTest(folder=path):
                self.assertEqual(have.get(path, 0), want.get(path, 0))
                if path in self.plan:
                    self.assertEqual(got[path]["size"], sum(map(len, self.plan[path])))
        self.assertEqual(got["INBOX"]["total"], 0)
        self.assertEqual(sum(f["unread"] for f in got.values()),
                         sum(f["total"] for f in got.values()), "imported mail is unread")

    def test_3_subjects(self):
        folders = api_folders(self, self.s)
        for rel, subject in SUBJECTS.items():
            with self.subTest(file=rel):
                path = os.path.join(self.src, rel)
                with open(path, "rb") as f:
                    data = f.read()
                rel_dir = os.path.dirname(rel)
                if is_from_line(data.split(b"\n", 1)[0]):
                    folder, raw = rel, mbox_split(data)[0]
                else:
                    folder, raw = rel_dir, data
                self.assertIn(folder, folders)
                items = [it for it in api_list(self, self.s, folders[folder]["id"])
                         if it["size"] == len(raw)]
                bodies = [self.s.get("/api/v1/messages/%d/raw" % it["id"]).body
                          for it in items]
                match = [it for it, b in zip(items, bodies) if b == raw]
                self.assertEqual(len(match), 1, "the message of %s is not in %s" % (rel,
                                                                                    folder))
                self.assertEqual(match[0]["subject"], subject)

    def test_4_again_stores_nothing_twice(self):
        before = api_folders(self, self.s)
        cp = ok(self, cli(SRV, "import", IMP[0], self.src), "second import")
        n, dup, skipped = summary(self, cp)
        total = sum(len(v) for v in self.plan.values())
        self.assertEqual((n, dup), (0, total + self.dups))
        self.assertEqual(sorted(skipped), sorted(self.not_mail))
        self.assertEqual(api_folders(self, self.s), before)

    def test_5_export_mbox(self):
        out = yz.cli_dir(SRV.data, os.path.join(SRV.root, "export-mbox"))
        cp = ok(self, cli(SRV, "export", IMP[0], "--format", "mbox", out), "export mbox")
        total = sum(len(v) for v in self.plan.values())
        with self.subTest(check="count"):
            self.assertRegex(cp.stdout, r"^exported %d messages \(" % total)
        files = {}
        for dirpath, _dirs, fns in os.walk(out):
            for fn in fns:
                p = os.path.join(dirpath, fn)
                self.assertTrue(fn.endswith(".mbox"), p)
                files[os.path.relpath(p, out)[:-5].replace(os.sep, "/")] = p
        for folder in sorted(set(files) | set(self.plan)):
            with self.subTest(folder=folder):
                self.assertIn(folder, files, "one FOLDER.mbox per folder with mail")
                self.assertIn(folder, self.plan, "a FOLDER.mbox for no folder of the plan")
                want = self.plan[folder]
                with open(files[folder], "rb") as f:
                    got = read_export_mbox(f.read())
                self.assertEqual(got, [mboxed(m) for m in want],
                                 "messages of %s differ after export" % folder)

    def test_6_export_maildir_and_import_it_elsewhere(self):
        out = yz.cli_dir(SRV.data, os.path.join(SRV.root, "export-maildir"))
        cp = ok(self, cli(SRV, "export", IMP[0], "--format", "maildir", out), "export maildir")
        total = sum(len(v) for v in self.plan.values())
        with self.subTest(check="count"):
            self.assertRegex(cp.stdout, r"^exported %d messages \(" % total)
        got = maildir_files(out)

        def md_dir(path):
            return "." if path == "INBOX" else "." + path.replace("%", "%25").replace(
                ".", "%2E").replace("/", ".")

        for folder, want in self.plan.items():
            with self.subTest(folder=folder):
                files = got.get(md_dir(folder), [])
                self.assertEqual(sorted(b for _n, b, _t in files), sorted(want))
                for name, body, _mtime in files:
                    self.assertRegex(name, r"^\d+\.M\d+P\d+\.[^:/]+,S=%d:2,$" % len(body))
        exported = sum(len(v) for v in got.values())
        with self.subTest(check="files"):
            self.assertEqual(exported, total)
        # the export imports again, to the same folders
        cp = ok(self, cli(SRV, "import", DUP[0], out), "import of the export")
        n, dup, skipped = summary(self, cp)
        self.assertEqual((n, dup, skipped), (exported, 0, {}))
        s = signin(SRV, DUP)
        have = {p: f["total"] for p, f in api_folders(self, s).items() if f["total"]}
        mine = {p: f["total"] for p, f in api_folders(self, self.s).items() if f["total"]}
        self.assertEqual(have, mine, "the export imported elsewhere has the same folders")


# ---------------------------------------------------------------------------------------------
# mbox and Maildir


MBOX = (b"From alice@example.test Mon Jan  1 10:00:00 2024\n"
        b"From: Alice <alice@example.test>\n"
        b"To: box@example.test\n"
        b"Subject: =?UTF-8?B?56ys5LiA5bCB?=\n"           # 第一封
        b"Date: Sun, 31 Dec 2023 08:00:00 +0800\n"
        b"Message-ID: <one@example.test>\n"
        b"\n"
        b"Hello.\n"
        b">From here on, lines starting with From are quoted.\n"
        b"\n"
        b"From bob@example.test Tue Feb 13 08:30:00 2024\n"
        b"From: Bob <bob@example.test>\n"
        b"To: box@example.test\n"
        b"Subject: second\n"
        b"Date: Tue, 13 Feb 2024 16:30:00 +0800\n"
        b"\n"
        b"Quoting the archive:\n"
        b">>From the archive, with one quote in the message.\n"
        b"From the end, not after an empty line: not a separator.\n"
        b"\n"
        b"From carol@example.test Wed Mar  6 23:59:59 2024\n"
        b"From: Carol <carol@example.test>\n"
        b"To: box@example.test\n"
        b"Subject: third\n"
        b"\n"
        b"The last one.\n")

MBOX_MSGS = [
    b"From: Alice <alice@example.test>\nTo: box@example.test\n"
    b"Subject: =?UTF-8?B?56ys5LiA5bCB?=\nDate: Sun, 31 Dec 2023 08:00:00 +0800\n"
    b"Message-ID: <one@example.test>\n\nHello.\n"
    b"From here on, lines starting with From are quoted.\n",
    b"From: Bob <bob@example.test>\nTo: box@example.test\nSubject: second\n"
    b"Date: Tue, 13 Feb 2024 16:30:00 +0800\n\nQuoting the archive:\n"
    b">From the archive, with one quote in the message.\n"
    b"From the end, not after an empty line: not a separator.\n",
    b"From: Carol <carol@example.test>\nTo: box@example.test\nSubject: third\n\n"
    b"The last one.\n",
]


def eml(subject, i, date="Mon, 01 Apr 2024 10:00:00 +0800"):
    return ("From: sender%d@example.cn\r\nTo: box@example.test\r\nSubject: %s\r\n"
            "Date: %s\r\nMessage-ID: <m%d-%s@example.cn>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            "\r\n第 %d 封邮件的正文。\r\n" % (i, yz.encoded_word(subject, "UTF-8"), date, i,
                                      hashlib.md5(subject.encode()).hexdigest()[:8], i)
            ).encode("utf-8")


class Mbox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = signin(SRV, BOX)

    def test_mboxrd_quoting_and_dates(self):
        self.assertEqual(mbox_split(MBOX), MBOX_MSGS)  # the test's own reader agrees
        path = os.path.join(SRV.root, "archive.mbox")
        with open(path, "wb") as f:
            f.write(MBOX)
        cp = ok(self, cli(SRV, "import", BOX[0], path, "--folder", "存档/2024"), "mbox import")
        self.assertEqual(summary(self, cp), (3, 0, {}))
        folders = api_folders(self, self.s)
        self.assertEqual(folders["存档/2024"]["total"], 3)
        self.assertEqual(folders["存档"]["total"], 0)
        items = sorted(api_list(self, self.s, folders["存档/2024"]["id"]),
                       key=lambda it: it["uid"])
        self.assertEqual([it["subject"] for it in items], ["第一封", "second", "third"])
        self.assertEqual([it["date"] for it in items],
                         ["2024-01-01T10:00:00Z", "2024-02-13T08:30:00Z",
                          "2024-03-06T23:59:59Z"], "arrival dates from the From_ lines")
        m = self.s.get("/api/v1/messages/%d" % items[0]["id"]).json()
        self.assertEqual(m["sent_date"], "2023-12-31T00:00:00Z")
        for it, want in zip(items, MBOX_MSGS):
            self.assertEqual(self.s.get("/api/v1/messages/%d/raw" % it["id"]).body, want)
        # and out again, as one mbox file
        out_dir = yz.cli_dir(SRV.data, os.path.join(SRV.root, "mbox-out"))
        out = os.path.join(out_dir, "存档.mbox")
        cp = ok(self, cli(SRV, "export", BOX[0], "--format", "mbox", "--folder", "存档/2024",
                          out), "export --folder")
        self.assertRegex(cp.stdout, r"^exported 3 messages ")
        with open(out, "rb") as f:
            data = f.read()
        self.assertEqual(read_export_mbox(data), MBOX_MSGS)
        self.assertIn(b"\n>From here on,", data)
        self.assertIn(b"\n>>From the archive,", data)
        self.assertIn(b"\n>From the end,", data)
        self.assertTrue(data.startswith(b"From alice@example.test Mon Jan  1 10:00:00 2024\n"),
                        data[:80])
        # importing the export again into the same folder: all there already
        cp = ok(self, cli(SRV, "import", BOX[0], out, "--folder", "存档/2024"), "re-import")
        self.assertEqual(summary(self, cp), (0, 3, {}))

    def test_folder_of_mbox_files(self):
        top = os.path.join(SRV.root, "thunderbird")
        os.makedirs(os.path.join(top, "项目"))
        sent = b"".join(b"From me@example.test Mon Apr  1 10:00:0%d 2024\n" % i + eml(
            "已发送 %d" % i, i).replace(b"\r\n", b"\n") + b"\n" for i in range(2))
        with open(os.path.join(top, "Sent.mbox"), "wb") as f:
            f.write(sent)
        with open(os.path.join(top, "Sent.msf"), "wb") as f:
            f.write(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")
        with open(os.path.join(top, "家庭"), "wb") as f:
            f.write(b"From mom@example.test Tue Apr  2 10:00:00 2024\n" + eml("家书", 7))
        with open(os.path.join(top, "项目", "周报.mbox"), "wb") as f:
            f.write(b"From pm@example.test Wed Apr  3 10:00:00 2024\n" + eml("周报", 8))
        with open(os.path.join(top, "loose.eml"), "wb") as f:
            f.write(eml("散件", 9))
        cp = ok(self, cli(SRV, "import", BOX[0], top, "--folder", "迁移"), "folder import")
        self.assertEqual(summary(self, cp), (5, 0, {}))
        folders = api_folders(self, self.s)
        subjects = lambda p: sorted(it["subject"] for it in api_list(self, self.s,
                                                                    folders[p]["id"]))
        self.assertEqual(subjects("迁移/Sent"), ["已发送 0", "已发送 1"])
        self.assertEqual(subjects("迁移/家庭"), ["家书"])
        self.assertEqual(subjects("迁移/项目/周报"), ["周报"])
        self.assertEqual(subjects("迁移"), ["散件"])
        self.assertNotIn("迁移/Sent.msf", folders)
        # without --folder, Sent.mbox is the Sent folder itself
        top2 = os.path.join(SRV.root, "tb2")
        os.makedirs(top2)
        with open(os.path.join(top2, "Sent.mbox"), "wb") as f:
            f.write(sent)
        cp = ok(self, cli(SRV, "import", BOX[0], top2), "Sent.mbox import")
        folders = api_folders(self, self.s)
        sent_folder = [f for f in folders.values() if f["role"] == "sent"][0]
        self.assertEqual(sent_folder["total"], 2)
        self.assertNotIn("Sent/Sent", folders)


MAILDIR = {
    # (sub-maildir, cur|new|tmp, file name, subject, mtime)
    ("", "cur", "1711900001.M1P100.host:2,S", "已读", 1711900001),
    ("", "cur", "1711900002.M2P100.host:2,FS", "已读加星", 1711900002),
    ("", "cur", "1711900003.M3P100.host:2,DRT", "草稿已回复已删", 1711900003),
    ("", "cur", "1711900004.M4P100.host", "没有标记", 1711900004),
    ("", "new", "1711900005.M5P100.host", "新邮件", 1711900005),
    ("", "new", "1711900006.M6P100.host:2,S", "新的也未读", 1711900006),
    ("", "tmp", "1711900007.M7P100.host", "还在写", 1711900007),
    (".Work.Projects", "cur", "1711900008.M8P100.host:2,S", "项目邮件", 1711900008),
    (".Work.Projects", "new", "1711900009.M9P100.host", "项目新邮件", 1711900009),
    (".Work", "cur", "1711900010.M10P100.host:2,F", "工作", 1711900010),
    (".Reports%2E2024", "cur", "1711900011.M11P100.host:2,", "报告", 1711900011),
}
MAILDIR_FLAGS = {"已读": ["seen"], "已读加星": ["seen", "flagged"],
                 "草稿已回复已删": ["answered", "deleted", "draft"], "没有标记": [], "新邮件": [],
                 "新的也未读": [], "项目邮件": ["seen"], "项目新邮件": [], "工作": ["flagged"],
                 "报告": []}
MAILDIR_FOLDERS = {"": "收信", ".Work.Projects": "收信/Work/Projects", ".Work": "收信/Work",
                   ".Reports%2E2024": "收信/Reports.2024"}


class Maildir(unittest.TestCase):
    def test_flags_folders_and_export(self):
        s = signin(SRV, BOX)
        top = os.path.join(SRV.root, "Maildir")
        raws = {}
        for i, (sub, kind, name, subject, mtime) in enumerate(sorted(MAILDIR)):
            d = os.path.join(top, sub, kind)
            os.makedirs(d, exist_ok=True)
            for k in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(top, sub, k), exist_ok=True)
            raw = eml(subject, 100 + i)
            raws[subject] = raw
            p = os.path.join(d, name)
            with open(p, "wb") as f:
                f.write(raw)
            os.utime(p, (mtime, mtime))
        cp = ok(self, cli(SRV, "import", BOX[0], top, "--folder", "收信"), "Maildir import")
        self.assertEqual(summary(self, cp), (10, 0, {}), "tmp/ is not mail yet")
        folders = api_folders(self, s)
        seen = {}
        for sub, path in MAILDIR_FOLDERS.items():
            self.assertIn(path, folders)
            for it in api_list(self, s, folders[path]["id"]):
                seen[it["subject"]] = (sub, it)
        self.assertEqual(sorted(seen), sorted(MAILDIR_FLAGS))
        for sub, kind, name, subject, mtime in MAILDIR:
            if kind == "tmp":
                continue
            with self.subTest(subject=subject):
                where, it = seen[subject]
                self.assertEqual(where, sub)
                self.assertEqual(it["flags"], MAILDIR_FLAGS[subject])
                self.assertEqual(it["date"], time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                           time.gmtime(mtime)),
                                 "arrival = the file's mtime")
                self.assertEqual(s.get("/api/v1/messages/%d/raw" % it["id"]).body,
                                 raws[subject])
        self.assertEqual(folders["收信"]["unread"], 4)
        # export: the whole tree, then one folder
        out = yz.cli_dir(SRV.data, os.path.join(SRV.root, "maildir-out"))
        ok(self, cli(SRV, "export", BOX[0], "--format", "maildir", out), "export maildir")
        got = maildir_files(out)
        for sub, path in MAILDIR_FOLDERS.items():
            key = "." + path.replace(".", "%2E").replace("/", ".")
            want = sorted((subject, mtime) for s_, k, _n, subject, mtime in MAILDIR
                          if s_ == sub and k != "tmp")
            files = got.get(key, [])
            self.assertEqual(len(files), len(want), key)
            by_body = {b: (n, t) for n, b, t in files}
            for subject, mtime in want:
                with self.subTest(export=subject):
                    self.assertIn(raws[subject], by_body)
                    name, t = by_body[raws[subject]]
                    flags = "".join(sorted({"seen": "S", "flagged": "F", "answered": "R",
                                            "deleted": "T", "draft": "D"}[f]
                                           for f in MAILDIR_FLAGS[subject]))
                    self.assertTrue(name.endswith(",S=%d:2,%s" % (len(raws[subject]), flags)),
                                    name)
                    self.assertEqual(t, mtime, "mtime = arrival")
        for d in got:
            for k in ("cur", "new", "tmp"):
                self.assertTrue(os.path.isdir(os.path.join(out, d, k)), (d, k))
        one = yz.cli_dir(SRV.data, os.path.join(SRV.root, "maildir-one"))
        ok(self, cli(SRV, "export", BOX[0], "--format", "maildir", "--folder",
                     "收信/Work/Projects", one), "export --folder")
        got = maildir_files(one)
        self.assertEqual(sorted(got), ["."])
        self.assertEqual(sorted(b for _n, b, _t in got["."]),
                         sorted([raws["项目邮件"], raws["项目新邮件"]]))


# ---------------------------------------------------------------------------------------------
# A killed import


def generated(i):
    return ("From: gen%d@example.cn\r\nTo: crash@example.test\r\nSubject: 批量 %05d\r\n"
            "Date: Mon, 01 Jan 2024 00:00:00 +0800\r\nMessage-ID: <gen-%d@example.cn>\r\n"
            "\r\n第 %d 封。%s\r\n" % (i, i, i, i, "内容" * (i % 300))).encode("utf-8")


class Crash(unittest.TestCase):
    """A few thousand messages in one mbox (one file: this file system deletes slowly)."""
    N = 3000

    def test_sigkill_mid_import(self):
        u = ("crash@" + D, "crash-password-1", "user", "崩溃")
        srv = yz.offline_server(users=[u], name="test_import-crash", scratch=True)
        try:
            self.run_crash(srv, u)
        finally:
            srv.stop(raise_on_error=False)

    def count(self, db):
        try:
            return yz.sql_read(db, "SELECT count(*) FROM messages")[0][0]
        except Exception:
            return 0

    def export_all(self, srv, u, name):
        out = yz.cli_dir(srv.data, os.path.join(srv.root, "out"))
        path = os.path.join(out, name)
        cp = ok(self, cli(srv, "export", u[0], "--format", "mbox", "--folder", "批量", path),
                "export")
        with open(path, "rb") as f:
            msgs = read_export_mbox(f.read())
        os.unlink(path)
        return msgs, cp

    def run_crash(self, srv, u):
        src = os.path.join(srv.root, "many.mbox")
        originals = [generated(i) for i in range(self.N)]
        with open(src, "wb") as f:
            for i, raw in enumerate(originals):
                f.write(b"From gen%d@example.cn Mon Jan  1 00:00:00 2024\n" % i + raw + b"\n")
        originals = set(originals)
        self.assertEqual(len(originals), self.N)
        # the account's mail.db appears with the first open
        ok(self, cli(srv, "import", u[0], os.path.join(srv.root, "none")), "empty import")
        db = os.path.join(yz.account_dir(srv.data, u[0]), "mail.db")
        p = subprocess.Popen([yz.yizhan_bin(), "import", "--data", srv.data, u[0], src,
                              "--folder", "批量"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None and self.count(db) < 256:
            time.sleep(0.005)
        p.send_signal(signal.SIGKILL)
        p.communicate()
        self.assertEqual(p.returncode, -signal.SIGKILL, "the import ended before the kill: "
                         "make N bigger")
        stored = self.count(db)
        self.assertGreaterEqual(stored, 256)
        self.assertLess(stored, self.N, "everything was stored before the kill: make N bigger")
        cp = ok(self, cli(srv, "check"), "check after the kill")
        self.assertRegex(cp.stdout, r"(?m)^mailboxes: 1 checked, 0 damaged$")
        self.assertRegex(cp.stdout, r"(?m)^blobs: \d+ verified, 0 damaged, 0 referenced but "
                         r"missing$")
        got, cp = self.export_all(srv, u, "after-kill.mbox")
        self.assertRegex(cp.stdout, r"^exported %d messages " % stored)
        self.assertEqual(len(got), stored)
        self.assertEqual(len(set(got)), stored, "a message is there twice")
        self.assertTrue(set(got) <= originals, "a stored message is not complete")
        # the same import again finishes the job
        cp = ok(self, cli(srv, "import", u[0], src, "--folder", "批量"), "import again")
        n, dup, skipped = summary(self, cp)
        self.assertEqual((n, dup, skipped), (self.N - stored, stored, {}))
        got, cp = self.export_all(srv, u, "after-rerun.mbox")
        self.assertEqual(len(got), self.N)
        self.assertEqual(set(got), originals)
        ok(self, cli(srv, "check"), "check after the second import")
        self.assertEqual(yz.sql_read(db, "SELECT count(*) FROM index_queue")[0][0], 0,
                         "the second import indexed what the first one left")
        self.assertEqual(yz.sql_read(db, "SELECT total FROM folders WHERE name = '批量'")[0][0],
                         self.N)


# ---------------------------------------------------------------------------------------------
# check, check --rebuild


class Check(unittest.TestCase):
    def test_damaged_and_missing_blobs(self):
        u = ("chk@" + D, "chk-password-1", "user", "检查")
        srv = yz.offline_server(users=[u], name="test_import-check")
        try:
            src = os.path.join(srv.root, "in")
            os.makedirs(src)
            raws = [eml("检查 %d" % i, i) for i in range(5)]
            for i, raw in enumerate(raws):
                with open(os.path.join(src, "%d.eml" % i), "wb") as f:
                    f.write(raw)
            ok(self, cli(srv, "import", u[0], src), "import")
            cp = ok(self, cli(srv, "check"), "check of a sound store")
            self.assertIn("mailboxes: 1 checked, 0 damaged\n", cp.stdout)
            self.assertIn("blobs: 5 verified, 0 damaged, 0 referenced but missing\n", cp.stdout)
            # one blob damaged in place (same size)
            victim = blob_path(srv.data, raws[2])
            digest = os.path.basename(victim)
            with open(victim, "rb") as f:
                keep = f.read()
            with open(victim, "r+b") as f:
                f.write(b"XXXX")
            cp = cli(srv, "check")
            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
            self.assertIn(digest, cp.stdout, "check must name the damaged blob")
            self.assertIn("blobs: 5 verified, 1 damaged, 0 referenced but missing\n", cp.stdout)
            with open(victim, "wb") as f:
                f.write(keep)
            ok(self, cli(srv, "check"), "check after repair")
            # one blob gone
            gone = blob_path(srv.data, raws[4])
            os.rename(gone, gone + ".away")
            cp = cli(srv, "check")
            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
            self.assertIn("1 messages have no blob", cp.stdout)
            self.assertIn("1 referenced but missing", cp.stdout)
            os.rename(gone + ".away", gone)
            ok(self, cli(srv, "check"), "check after putting it back")
            # a damaged mail.db
            db = os.path.join(yz.account_dir(srv.data, u[0]), "mail.db")
            for suffix in ("-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.unlink(db + suffix)
            size = os.path.getsize(db)
            with open(db, "r+b") as f:
                f.seek(4096)
                f.write(b"\xff" * (size - 4096))
            cp = cli(srv, "check")
            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
            self.assertIn("damaged mail.db", cp.stdout)
            self.assertIn("--rebuild %s" % u[0], cp.stdout)
            cp = ok(self, cli(srv, "check", "--rebuild", u[0]), "rebuild of a damaged mail.db")
            self.assertIn("rebuilt mail.db with 5 messages", cp.stdout)
            ok(self, cli(srv, "check"), "check after the rebuild")
        finally:
            srv.stop(raise_on_error=False)

    def test_rebuild_after_losing_mail_db(self):
        u = ("rb@" + D, "rb-password-1", "user", "重建")
        srv = yz.offline_server(users=[u], name="test_import-rebuild")
        try:
            self.run_rebuild(srv, u)
        finally:
            srv.stop(raise_on_error=False)

    def test_rebuild_keeps_copies(self):
        """A copy is a stored message too (it arrived in its folder), and purging an expunged
        copy must not take the original's journal entry with it."""
        u = ("rbc@" + D, "rbc-password-1", "user", "副本")
        srv = yz.offline_server(users=[u], name="test_import-rebuild-copies")
        try:
            yz.conf_append(srv.data, "mail", {"retention_days": 0})
            srv.launch()
            s = signin(srv, u)
            roles = {f["role"]: f["id"] for f in api_folders(self, s).values() if f["role"]}
            ids = {}
            for k in "AB":
                r = s.req("POST", "/api/v1/folders/%d/messages" % roles["inbox"],
                          headers={"Content-Type": "message/rfc822"}, body=eml("副本 " + k, 1))
                self.assertEqual(r.status, 201, r)
                ids[k] = r.json()["id"]
            for k in "AB":
                r = s.req("PATCH", "/api/v1/messages", body={"ids": [ids[k]],
                                                              "copy": roles["archive"]})
                self.assertEqual(r.status, 200, r)
                ids[k + "'"] = r.json()["copies"][0]
            for _ in range(2):  # the copy of B: to Trash, expunged, then purged
                s.req("DELETE", "/api/v1/messages", body={"ids": [ids["B'"]]})
            time.sleep(1.2)
            ok(self, cli(srv, "purge"), "purge")
            before = self.snapshot(s)
            self.assertEqual({k: [x[0] for x in v] for k, v in before.items()},
                             {"INBOX": ["副本 A", "副本 B"], "Archive": ["副本 A"]})
            self.assertIsNone(srv.stop_process())
            adir = yz.account_dir(srv.data, u[0])
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(os.path.join(adir, "mail.db" + suffix)):
                    os.unlink(os.path.join(adir, "mail.db" + suffix))
            cp = ok(self, cli(srv, "check", "--rebuild", u[0]), "check --rebuild")
            self.assertIn("rebuilt mail.db with 3 messages", cp.stdout)
            srv.launch()
            s = signin(srv, u)
            self.assertEqual(self.snapshot(s), before, "mail lost in the rebuild")
        finally:
            srv.stop(raise_on_error=False)

    def snapshot(self, s):
        """{folder path: sorted [(subject, flags, raw sha256)]} of every folder with mail."""
        out = {}
        for path, f in api_folders(self, s).items():
            for it in api_list(self, s, f["id"]):
                raw = s.get("/api/v1/messages/%d/raw" % it["id"]).body
                out.setdefault(path, []).append((it["subject"], tuple(it["flags"]),
                                                 hashlib.sha256(raw).hexdigest()))
        return {k: sorted(v) for k, v in out.items()}

    def run_rebuild(self, srv, u):
        mbox = os.path.join(srv.root, "a.mbox")
        with open(mbox, "wb") as f:
            f.write(MBOX)
        top = os.path.join(srv.root, "md")
        for sub, kind, name, subject, mtime in MAILDIR:
            d = os.path.join(top, sub, kind)
            os.makedirs(d, exist_ok=True)
            for k in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(top, sub, k), exist_ok=True)
            with open(os.path.join(d, name), "wb") as f:
                f.write(eml(subject, mtime))
        srv.launch()
        ok(self, cli(srv, "import", u[0], mbox, "--folder", "旧信"), "mbox import")
        ok(self, cli(srv, "import", u[0], top), "Maildir import")
        s = signin(srv, u)
        before = self.snapshot(s)
        self.assertEqual(sum(map(len, before.values())), 13)
        self.assertEqual(before["Work/Projects"][0][0], "项目新邮件")
        ok(self, cli(srv, "check"), "check before")
        problem = srv.stop_process()
        self.assertIsNone(problem)
        adir = yz.account_dir(srv.data, u[0])
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(os.path.join(adir, "mail.db" + suffix)):
                os.unlink(os.path.join(adir, "mail.db" + suffix))
        cp = ok(self, cli(srv, "check", "--rebuild", u[0]), "check --rebuild")
        self.assertIn("rebuilt mail.db with 13 messages", cp.stdout)
        ok(self, cli(srv, "check"), "check after the rebuild")
        srv.launch()
        s = signin(srv, u)
        self.assertEqual(self.snapshot(s), before, "the rebuilt mailbox differs")
        yz.wait_indexed(s.get)
        r = s.get("/api/v1/search?q=" + urllib.parse.quote("项目新邮件"))
        self.assertEqual(len(r.json()["items"]), 1, "the rebuilt mailbox is searchable")


class FirstStart(unittest.TestCase):
    def test_import_before_the_first_start(self):
        """init, import the old mail, then start the daemon: it must read what the command
        wrote (as root the commands work for the service user)."""
        u = ("first@" + D, "first-password-1", "user", "首次")
        srv = yz.offline_server(users=[u], name="test_import-first-start")
        try:
            src = os.path.join(srv.root, "old.eml")
            raw = eml("启用之前", 1)
            with open(src, "wb") as f:
                f.write(raw)
            ok(self, cli(srv, "import", u[0], src), "import before the first start")
            srv.launch()
            s = signin(srv, u)
            r = s.get("/api/v1/messages")
            self.assertEqual(r.status, 200, r)
            self.assertEqual([it["subject"] for it in r.json()["items"]], ["启用之前"])
            self.assertEqual(s.get("/api/v1/messages/%d/raw" % r.json()["items"][0]["id"]
                                   ).body, raw)
            r = s.post("/api/v1/folders", {"name": "之后"})
            self.assertEqual(r.status, 201, r)
        finally:
            srv.stop(raise_on_error=False)


# ---------------------------------------------------------------------------------------------
# restore, purge, gc


class Restore(unittest.TestCase):
    def test_restore_expunged(self):
        s = signin(SRV, RES)
        fa = s.post("/api/v1/folders", {"name": "甲"}).json()["id"]
        fb = s.post("/api/v1/folders", {"name": "乙"}).json()["id"]
        trash = [f for f in api_folders(self, s).values() if f["role"] == "trash"][0]["id"]
        raws, ids = {}, {}
        for key, folder in (("a1", fa), ("a2", fa), ("b1", fb), ("keep", fa)):
            raws[key] = eml("恢复测试 " + key, len(raws))
            r = s.req("POST", "/api/v1/folders/%d/messages" % folder,
                      headers={"Content-Type": "message/rfc822"}, body=raws[key])
            self.assertEqual(r.status, 201, r)
            ids[key] = r.json()["id"]

        def expunge(keys):
            for _ in range(2):  # to Trash, then expunged there
                r = s.req("DELETE", "/api/v1/messages", body={"ids": [ids[k] for k in keys]})
                self.assertEqual(r.status, 200, r)

        expunge(["a1", "a2"])
        time.sleep(1.1)
        t2 = int(time.time())
        expunge(["b1"])
        for k in ("a1", "a2", "b1"):
            self.assertEqual(s.get("/api/v1/messages/%d" % ids[k]).status, 404)
        yz.wait_indexed(s.get)
        q = "/api/v1/search?q=" + urllib.parse.quote("恢复测试")
        self.assertEqual([it["id"] for it in s.get(q).json()["items"]], [ids["keep"]])
        say = lambda n: "%s: restored %d messages" % (RES[0], n)
        tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * 86400))
        cp = ok(self, cli(SRV, "restore", RES[0], "--since", tomorrow), "restore --since")
        self.assertEqual(cp.stdout.strip(), say(0))
        # they were expunged from Trash (docs/API.md: they go back where they were expunged)
        cp = ok(self, cli(SRV, "restore", RES[0], "--folder", "甲"), "restore --folder 甲")
        self.assertEqual(cp.stdout.strip(), say(0))
        cp = ok(self, cli(SRV, "restore", RES[0], "--since", str(t2), "--folder", "Trash"),
                "restore --since --folder")
        self.assertEqual(cp.stdout.strip(), say(1))
        self.assertEqual(s.get("/api/v1/messages/%d" % ids["a1"]).status, 404)
        self.assertEqual(s.get("/api/v1/messages/%d" % ids["b1"]).json()["folder"], trash)
        cp = ok(self, cli(SRV, "restore", RES[0]), "restore")
        self.assertEqual(cp.stdout.strip(), say(2))
        cp = ok(self, cli(SRV, "restore", RES[0]), "restore again")
        self.assertEqual(cp.stdout.strip(), say(0))
        for k in ("a1", "a2", "b1"):
            r = s.get("/api/v1/messages/%d" % ids[k])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["folder"], trash)
            self.assertEqual(s.get("/api/v1/messages/%d/raw" % ids[k]).body, raws[k])
        # and out of Trash, home to the folder each was deleted from
        r = s.req("PATCH", "/api/v1/messages", body={"ids": [ids["a1"], ids["a2"], ids["b1"]],
                                                      "restore": True})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([s.get("/api/v1/messages/%d" % ids[k]).json()["folder"]
                          for k in ("a1", "a2", "b1")], [fa, fa, fb])
        totals = {p: f["total"] for p, f in api_folders(self, s).items()}
        self.assertEqual((totals["甲"], totals["乙"], totals["Trash"]), (3, 1, 0))
        yz.wait_indexed(s.get)
        self.assertEqual(sorted(it["id"] for it in s.get(q).json()["items"]),
                         sorted(ids.values()), "restored mail is found again")


class PurgeGc(unittest.TestCase):
    def test_purge_then_gc(self):
        u = ("gc@" + D, "gc-password-1", "user", "回收")
        srv = yz.offline_server(users=[u], name="test_import-gc")
        try:
            self.run_gc(srv, u)
        finally:
            srv.stop(raise_on_error=False)

    def gc(self, srv, *args):
        cp = ok(self, cli(srv, "gc", *args), "gc")
        m = re.match(r"^blobs: (\d+) referenced, (\d+) kept, (\d+) removed \((\d+) bytes\), "
                     r"(\d+) too young$", cp.stdout.strip())
        self.assertIsNotNone(m, cp.stdout)
        return tuple(int(x) for x in m.groups())

    def age_blobs(self, srv):
        old = time.time() - 3 * 86400
        for dirpath, _dirs, files in os.walk(os.path.join(srv.data, "blobs")):
            for fn in files:
                os.utime(os.path.join(dirpath, fn), (old, old))

    def run_gc(self, srv, u):
        yz.conf_append(srv.data, "mail", {"retention_days": 0})
        srv.launch()
        s = signin(srv, u)
        inbox = [f for f in api_folders(self, s).values() if f["role"] == "inbox"][0]["id"]
        archive = [f for f in api_folders(self, s).values() if f["role"] == "archive"][0]["id"]
        raws = {k: eml("回收 " + k, i) for i, k in enumerate("ABCD")}
        ids = {}
        for k, raw in raws.items():
            r = s.req("POST", "/api/v1/folders/%d/messages" % inbox,
                      headers={"Content-Type": "message/rfc822"}, body=raw)
            self.assertEqual(r.status, 201, r)
            ids[k] = r.json()["id"]
        r = s.req("PATCH", "/api/v1/messages", body={"ids": [ids["C"]], "copy": archive})
        self.assertEqual(r.status, 200, r)
        copy_c = r.json()["copies"][0]
        for _ in range(2):
            r = s.req("DELETE", "/api/v1/messages", body={"ids": [ids["A"], ids["C"]]})
            self.assertEqual(r.status, 200, r)
        self.age_blobs(srv)
        # expunged but not purged: still referenced, nothing goes
        self.assertEqual(self.gc(srv), (4, 4, 0, 0, 0))
        time.sleep(1.2)  # retention 0: anything expunged before now
        cp = ok(self, cli(srv, "purge"), "purge")
        aid = yz.account_id(srv.data, u[0])
        self.assertEqual(cp.stdout.strip(), "account %d: purged 2 messages" % aid)
        cp = ok(self, cli(srv, "restore", u[0]), "restore after purge")
        self.assertEqual(cp.stdout.strip(), "%s: restored 0 messages" % u[0])
        # A's blob is garbage now; C's is still the copy's
        self.assertEqual(self.gc(srv), (3, 3, 1, len(raws["A"]), 0))
        self.assertFalse(os.path.exists(blob_path(srv.data, raws["A"])))
        for k in "BCD":
            self.assertTrue(os.path.exists(blob_path(srv.data, raws[k])), k)
        for mid, k in ((ids["B"], "B"), (ids["D"], "D"), (copy_c, "C")):
            r = s.get("/api/v1/messages/%d/raw" % mid)
            self.assertEqual((r.status, r.body), (200, raws[k]))
        ok(self, cli(srv, "check"), "check after gc")
        # a young unreferenced blob survives the default grace period
        r = s.req("POST", "/api/v1/folders/%d/messages" % inbox,
                  headers={"Content-Type": "message/rfc822"}, body=eml("回收 E", 9))
        e = r.json()["id"]
        for _ in range(2):
            s.req("DELETE", "/api/v1/messages", body={"ids": [e]})
        time.sleep(1.2)
        ok(self, cli(srv, "purge"), "purge E")
        self.assertEqual(self.gc(srv), (3, 3, 0, 0, 1))
        self.assertTrue(os.path.exists(blob_path(srv.data, eml("回收 E", 9))))
        self.assertEqual(self.gc(srv, "--grace", "0"), (3, 3, 1, len(eml("回收 E", 9)), 0))
        self.assertFalse(os.path.exists(blob_path(srv.data, eml("回收 E", 9))))


if __name__ == "__main__":
    yz.main()
