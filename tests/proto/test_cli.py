#!/usr/bin/env python3
"""The command line (docs/API.md "Command line"): help, usage errors, init, user, domain,
and a broken yizhan.conf refused by `serve` with file, line and key."""

import json
import os
import sqlite3
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

import yzharness as yz

D = yz.DOMAIN
ROOT = None
DATA = None


def setUpModule():
    global ROOT, DATA
    yz.require_binary()
    ROOT = tempfile.mkdtemp(prefix="yzproto-cli-")
    DATA = os.path.join(ROOT, "data")
    cp = yz.run_cli(["init", "--data", DATA, "--domain", D, "--port-base",
                     str(yz.pick_port_base())])
    if cp.returncode != 0:
        raise AssertionError("init failed: %s%s" % (cp.stdout, cp.stderr))


def tearDownModule():
    if ROOT and not os.environ.get("YZ_KEEP"):
        shutil.rmtree(ROOT, ignore_errors=True)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def cli(*args, input=None, timeout=30):
    return yz.run_cli(list(args), input=input, timeout=timeout)


def add(addr, password="password-123", role=None, name=None, data=None):
    args = ["user", "add", "--data", data or DATA, addr]
    if role:
        args += ["--role", role]
    if name:
        args += ["--name", name]
    return cli(*(args + ["--password-stdin"]), input=password + "\n")


def user_list(*extra):
    cp = cli("user", "list", "--data", DATA, *extra)
    assert cp.returncode == 0, cp.stderr
    return [line.split("\t") for line in cp.stdout.splitlines() if line.strip()]


def user_show(addr):
    cp = cli("user", "show", "--data", DATA, addr)
    assert cp.returncode == 0, cp.stderr
    out = {}
    for line in cp.stdout.splitlines():
        m = re.match(r"^([a-z_]+):\s?(.*)$", line)
        assert m, "not a `key: value` line: %r" % line
        out[m.group(1)] = m.group(2)
    return out


COMMANDS = [
    ["init"], ["user", "add"], ["user", "passwd"], ["user", "disable"], ["user", "enable"],
    ["user", "list"], ["user", "show"], ["user", "totp-reset"], ["domain", "add"],
    ["domain", "list"], ["serve"], ["audit", "verify"],
]


class Help(unittest.TestCase):
    def test_every_command(self):
        for cmd in [[]] + [["user"], ["domain"], ["audit"]] + COMMANDS:
            with self.subTest(cmd=" ".join(cmd)):
                try:
                    cp = cli(*(cmd + ["--help"]), timeout=10)
                except subprocess.TimeoutExpired:
                    self.fail("`yizhan %s --help` did not return" % " ".join(cmd))
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertRegex(cp.stdout.lower(), r"usage", "no usage on stdout")
                if cmd and cmd[-1] not in ("user", "domain", "audit"):
                    self.assertIn(cmd[-1], cp.stdout)
                    self.assertIn("--data", cp.stdout)


class UsageErrors(unittest.TestCase):
    def assert_usage_error(self, cp, what):
        self.assertEqual(cp.returncode, 2, "%s: exit %d, stderr %r" % (what, cp.returncode,
                                                                       cp.stderr))
        self.assertTrue(cp.stderr.strip(), "%s: nothing on stderr" % what)

    def test_unknown_command(self):
        cp = cli("frobnicate")
        self.assert_usage_error(cp, "unknown command")
        self.assertIn("frobnicate", cp.stderr)

    def test_no_command(self):
        cp = cli()
        self.assertNotEqual(cp.returncode, 0)

    def test_unknown_subcommand(self):
        self.assert_usage_error(cli("user", "frobnicate", "--data", DATA), "user frobnicate")

    def test_unknown_option(self):
        self.assert_usage_error(cli("user", "list", "--data", DATA, "--bogus"), "--bogus")

    def test_missing_data(self):
        for cmd in (["user", "list"], ["domain", "list"], ["audit", "verify"],
                    ["user", "show", "x@" + D]):
            with self.subTest(cmd=cmd):
                cp = cli(*cmd, timeout=10)
                self.assert_usage_error(cp, " ".join(cmd) + " without --data")
                self.assertIn("--data", cp.stderr)

    def test_missing_arguments(self):
        self.assert_usage_error(cli("init", "--data", os.path.join(ROOT, "never")),
                                "init without --domain")
        self.assertFalse(os.path.exists(os.path.join(ROOT, "never", "yizhan.conf")))
        self.assert_usage_error(cli("user", "add", "--data", DATA, "--password-stdin",
                                    input="password-123\n"), "user add without address")
        self.assert_usage_error(cli("user", "add", "--data", DATA, "nostdin@" + D),
                                "user add without --password-stdin")


class Init(unittest.TestCase):
    def test_files(self):
        for f in ("yizhan.conf", "tls/cert.pem", "tls/key.pem", "directory.db", "audit.db",
                  "audit.key"):
            self.assertTrue(os.path.isfile(os.path.join(DATA, f)), f)
        for f in ("tls/key.pem", "audit.key"):
            mode = stat.S_IMODE(os.stat(os.path.join(DATA, f)).st_mode)
            self.assertEqual(mode & 0o007, 0, "%s is world-accessible (%o)" % (f, mode))

    def test_twice_fails_and_keeps_files(self):
        paths = ("yizhan.conf", "tls/cert.pem", "tls/key.pem", "audit.key")
        before = {p: read(os.path.join(DATA, p)) for p in paths}
        cp = cli("init", "--data", DATA, "--domain", D)
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertTrue(cp.stderr.strip())
        self.assertRegex(cp.stderr, r"(?i)exist|already|initiali[sz]ed|%s" % re.escape(DATA))
        for p in paths:
            self.assertEqual(read(os.path.join(DATA, p)), before[p],
                             "second init changed %s" % p)

    def test_demo(self):
        d = os.path.join(ROOT, "demo")
        cp = cli("init", "--data", d, "--domain", "demo.test", "--demo", "--port-base",
                 str(yz.pick_port_base()))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        cred = os.path.join(d, "demo-credentials.txt")
        self.assertEqual(stat.S_IMODE(os.stat(cred).st_mode), 0o600)
        text = read(cred).decode()
        roles = {"demo@demo.test": "user", "sysadmin@demo.test": "sysadmin",
                 "secadmin@demo.test": "secadmin", "auditor@demo.test": "auditor"}
        for addr in roles:
            self.assertIn(addr, cp.stdout, "credentials not printed")
            self.assertIn(addr, text)
        cp = cli("user", "list", "--data", d)
        got = {line.split("\t")[0]: line.split("\t")[1] for line in cp.stdout.splitlines()
               if line.strip()}
        for addr, role in roles.items():
            self.assertEqual(got.get(addr), role, addr)


class Users(unittest.TestCase):
    def test_add_list_show(self):
        addr = "zhang.san@" + D
        cp = add(addr, role="secadmin", name="张三")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        rows = [r for r in user_list() if r[0] == addr]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0], [addr, "secadmin", "active", "张三"])
        for r in user_list():
            self.assertEqual(len(r), 4, "not ADDRESS<TAB>ROLE<TAB>STATUS<TAB>NAME: %r" % r)
            self.assertIn(r[1], ("user", "sysadmin", "secadmin", "auditor"))
            self.assertIn(r[2], ("active", "disabled"))
        sh = user_show(addr)
        for k in ("address", "name", "role", "status", "totp", "created"):
            self.assertIn(k, sh)
        self.assertEqual(sh["address"], addr)
        self.assertEqual(sh["name"], "张三")
        self.assertEqual(sh["role"], "secadmin")
        self.assertEqual(sh["status"], "active")

    def test_default_role_is_user(self):
        addr = "plain@" + D
        self.assertEqual(add(addr).returncode, 0)
        self.assertEqual(user_show(addr)["role"], "user")

    def test_disable_enable(self):
        addr = "toggle@" + D
        self.assertEqual(add(addr).returncode, 0)
        cp = cli("user", "disable", "--data", DATA, addr)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(user_show(addr)["status"], "disabled")
        self.assertIn([addr, "user", "disabled"], [r[:3] for r in user_list()])
        cp = cli("user", "enable", "--data", DATA, addr)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(user_show(addr)["status"], "active")
        # the audit trail says who changed what, before and after
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(DATA, "audit.db"), uri=True)
        rows = db.execute("SELECT actor, type, detail FROM audit WHERE type IN"
                          " ('account.disable', 'account.enable') ORDER BY id").fetchall()
        db.close()
        mine = [(a, t, json.loads(d)) for a, t, d in rows if json.loads(d)["address"] == addr]
        self.assertEqual([(t, d["before"], d["after"]) for _, t, d in mine],
                         [("account.disable", "active", "disabled"),
                          ("account.enable", "disabled", "active")])
        self.assertTrue(all(a.startswith("cli:") for a, _, _ in mine))

    def test_unknown_domain(self):
        cp = add("someone@unknown-domain.test")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("unknown-domain.test", cp.stderr)
        self.assertNotIn("someone@unknown-domain.test", [r[0] for r in user_list()])

    def test_existing_address(self):
        addr = "twice@" + D
        self.assertEqual(add(addr, role="sysadmin").returncode, 0)
        for role in ("auditor", "sysadmin", "user"):
            cp = add(addr, role=role)
            self.assertEqual(cp.returncode, 1, "second add as %s: %r" % (role, cp.stderr))
            self.assertTrue(cp.stderr.strip())
        self.assertEqual(user_show(addr)["role"], "sysadmin")
        self.assertEqual([r[0] for r in user_list()].count(addr), 1)
        cp = add("TWICE@" + D.upper(), role="auditor")
        self.assertNotEqual(cp.returncode, 0, "same address in other case accepted")

    def test_bad_role(self):
        cp = add("badrole@" + D, role="root")
        self.assertIn(cp.returncode, (1, 2))
        self.assertNotIn("badrole@" + D, [r[0] for r in user_list()])

    def test_bad_address(self):
        for a in ("no-at-sign", "@" + D, "a b@" + D, "x@", "a\tb@" + D):
            with self.subTest(address=a):
                cp = add(a)
                self.assertIn(cp.returncode, (1, 2), cp.stderr)

    def test_password_length(self):
        for pw, ok in (("1234567", False), ("12345678", True), ("p" * 1024, True),
                       ("p" * 1025, False), ("", False)):
            with self.subTest(length=len(pw)):
                addr = "len%d@%s" % (len(pw), D)
                cp = add(addr, password=pw)
                if ok:
                    self.assertEqual(cp.returncode, 0, cp.stderr)
                else:
                    self.assertEqual(cp.returncode, 1, "accepted %d-byte password" % len(pw))
                    self.assertTrue(cp.stderr.strip())

    def test_passwd(self):
        addr = "pw@" + D
        self.assertEqual(add(addr).returncode, 0)
        cp = cli("user", "passwd", "--data", DATA, addr, "--password-stdin",
                 input="new-password-1\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        cp = cli("user", "passwd", "--data", DATA, addr, "--password-stdin", input="short\n")
        self.assertEqual(cp.returncode, 1)
        cp = cli("user", "passwd", "--data", DATA, "nobody@" + D, "--password-stdin",
                 input="new-password-1\n")
        self.assertEqual(cp.returncode, 1)

    def test_unknown_account(self):
        for cmd in ("show", "disable", "enable", "totp-reset"):
            with self.subTest(cmd=cmd):
                cp = cli("user", cmd, "--data", DATA, "nobody@" + D)
                self.assertEqual(cp.returncode, 1, cp.stderr)
                self.assertTrue(cp.stderr.strip())


class Domains(unittest.TestCase):
    def domains(self):
        cp = cli("domain", "list", "--data", DATA)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]

    def test_add_list(self):
        self.assertIn(D, self.domains())
        cp = cli("domain", "add", "--data", DATA, "second.test")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("second.test", self.domains())
        cp = cli("domain", "add", "--data", DATA, "second.test")
        self.assertEqual(cp.returncode, 1, "duplicate domain accepted")
        self.assertEqual(self.domains().count("second.test"), 1)
        # Users in the new domain, and list --domain.
        self.assertEqual(add("li.si@second.test", name="李四").returncode, 0)
        only = user_list("--domain", "second.test")
        self.assertEqual([r[0] for r in only], ["li.si@second.test"])
        self.assertIn("li.si@second.test", [r[0] for r in user_list()])

    def test_bad_domain(self):
        for d in ("bad domain", "", "-x.test", "a..b"):
            with self.subTest(domain=d):
                cp = cli("domain", "add", "--data", DATA, d)
                self.assertIn(cp.returncode, (1, 2), "accepted %r" % d)


class BrokenConfig(unittest.TestCase):
    def broken_copy(self, mutate):
        d = os.path.join(tempfile.mkdtemp(prefix="conf-", dir=ROOT), "data")
        shutil.copytree(DATA, d)
        conf = os.path.join(d, "yizhan.conf")
        lines = read(conf).decode().splitlines()
        lineno = mutate(lines)
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        return d, lineno

    def serve_fails(self, d):
        p = subprocess.Popen([yz.yizhan_bin(), "serve", "--data", d], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("serve started despite a broken yizhan.conf")
        self.assertNotEqual(p.returncode, 0)
        return out + err

    def test_bad_value(self):
        def mutate(lines):
            # threads = lots, inside [http]: replace an existing threads line, else add one.
            sec = None
            for i, line in enumerate(lines):
                s = line.strip()
                if s.startswith("["):
                    sec = s
                elif sec == "[http]" and re.match(r"threads\s*=", s):
                    lines[i] = "threads = lots"
                    return i + 1
            for i, line in enumerate(lines):
                if line.strip() == "[http]":
                    lines.insert(i + 1, "threads = lots")
                    return i + 2
            lines += ["[http]", "threads = lots"]
            return len(lines)
        d, lineno = self.broken_copy(mutate)
        msg = self.serve_fails(d)
        self.assertIn("yizhan.conf", msg)
        self.assertRegex(msg, r"\b%d\b" % lineno, "line %d not named: %r" % (lineno, msg))
        self.assertIn("threads", msg)

    def test_syntax_error(self):
        def mutate(lines):
            lines.append("this line is not a setting")
            return len(lines)
        d, lineno = self.broken_copy(mutate)
        msg = self.serve_fails(d)
        self.assertIn("yizhan.conf", msg)
        self.assertRegex(msg, r"\b%d\b" % lineno, "line %d not named: %r" % (lineno, msg))


if __name__ == "__main__":
    yz.main()
