#!/usr/bin/env python3
"""Browser test of the admin path: a real `yizhan serve` (tests/proto/yzharness.py) and
tests/e2e/admin.mjs, which drives Debian's chromium through playwright-core. An auditor's
first sign-in enrols TOTP (secret read off the page), the audit log at /admin is checked
(records, type filter, CSV export), a second sign-in goes through the TOTP step (wrong code
refused, right code accepted), and a plain user at /admin is sent to /. Afterwards the audit
trail is read straight from audit.db and the hash chain verified. Screenshots go to
tests/e2e/artifacts/ (or $YZ_ARTIFACTS)."""
import os
import sqlite3
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proto"))
import yzharness as yz  # noqa: E402

AUDITOR = "shenji@example.test"
AUDITOR_PASSWORD = "Shen-Ji-7!kouling"
AUDITOR_NAME = "审计员"
USER = "han.meimei@example.test"
PASSWORD = "Mei-Mei-4!mima"
USER_NAME = "韩梅梅"

# Lines admin.mjs prints when the steps pass.
STEPS = (
    "ok enrolment step shown",
    "ok TOTP enrolled, at /admin",
    "ok role shown: 审计管理员",
    "ok audit table lists",
    "ok type filter auth.login.fail",
    "ok CSV export downloaded",
    "ok signed out, at /login",
    "ok TOTP step shown (no enrolment)",
    "ok wrong TOTP code rejected",
    "ok signed in again with TOTP, at /admin",
    "ok user at /admin ended up on /",
    "ok all",
)


class BrowserAdmin(unittest.TestCase):
    def test_auditor_enrols_totp_and_reads_the_audit_log(self):
        node_modules = os.path.join(HERE, "..", "..", "node_modules", "playwright-core")
        if not os.path.isdir(node_modules):
            self.fail("node_modules/playwright-core is missing: run scripts/setup.sh")
        users = [(AUDITOR, AUDITOR_PASSWORD, "auditor", AUDITOR_NAME),
                 (USER, PASSWORD, "user", USER_NAME)]
        with yz.Server(users=users) as srv:
            # something for the auditor to read: a failed and a good sign-in of the user
            with self.assertRaises(yz.LoginFailed):
                yz.login(srv, USER, PASSWORD + "-wrong")
            s = yz.login(srv, USER, PASSWORD)
            self.assertEqual(s.next, "done")

            env = dict(os.environ, YZ_BASE="https://localhost:%d" % srv.port,
                       YZ_AUDITOR=AUDITOR, YZ_AUDITOR_PASS=AUDITOR_PASSWORD,
                       YZ_AUDITOR_NAME=AUDITOR_NAME, YZ_USER=USER, YZ_PASS=PASSWORD,
                       YZ_ARTIFACTS=os.environ.get("YZ_ARTIFACTS",
                                                   os.path.join(HERE, "artifacts")))
            cp = subprocess.run(["node", os.path.join(HERE, "admin.mjs")], env=env,
                                capture_output=True, text=True, timeout=150)
            sys.stdout.write(cp.stdout)
            sys.stderr.write(cp.stderr)
            self.assertEqual(cp.returncode, 0, "admin.mjs failed")
            for step in STEPS:
                self.assertIn("\n" + step, "\n" + cp.stdout)
            srv.assert_alive()

            # the browser's actions reached the audit trail
            db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.data, "audit.db"),
                                 uri=True)
            try:
                rows = db.execute("SELECT actor, type, client FROM audit ORDER BY id").fetchall()
            finally:
                db.close()

            def count(actor, type_):
                return sum(1 for a, t, _ in rows if a == actor and t == type_)

            self.assertEqual(count(AUDITOR, "auth.totp.enrol"), 1, rows)
            self.assertEqual(count(AUDITOR, "auth.login.ok"), 2, rows)
            self.assertEqual(count(AUDITOR, "auth.totp.ok"), 1, rows)
            self.assertGreaterEqual(count(AUDITOR, "auth.totp.fail"), 1, rows)
            self.assertEqual(count(AUDITOR, "auth.logout"), 1, rows)
            self.assertGreaterEqual(count(AUDITOR, "audit.export"), 1, rows)
            self.assertEqual(count(USER, "auth.login.fail"), 1, rows)
            self.assertEqual(count(USER, "auth.login.ok"), 2, rows)  # Python, then chromium
            self.assertGreaterEqual(count(USER, "access.denied"), 1, rows)
            # everything the auditor did came from chromium
            self.assertTrue(all("Chrome" in c for a, _t, c in rows if a == AUDITOR), rows)

            r = srv.cli("audit", "verify", "--data", srv.data)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("chain intact", r.stdout)


if __name__ == "__main__":
    yz.main()
