#!/usr/bin/env python3
"""Browser test: a real `yizhan serve` (tests/proto/yzharness.py) and tests/e2e/login.mjs,
which drives Debian's chromium through playwright-core: sign in through /login (SCRAM in
WebCrypto, part of the password typed on the on-screen keyboard), see the name, sign out,
and see a wrong password refused. Screenshots go to tests/e2e/artifacts/."""
import os
import sqlite3
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proto"))
import yzharness as yz  # noqa: E402

USER = "li.lei@example.test"
PASSWORD = "Zhong-Wen-9!mima"
NAME = "李雷"


class BrowserSignIn(unittest.TestCase):
    def test_sign_in_through_the_login_page(self):
        node_modules = os.path.join(HERE, "..", "..", "node_modules", "playwright-core")
        if not os.path.isdir(node_modules):
            self.fail("node_modules/playwright-core is missing: run scripts/setup.sh")
        with yz.Server(users=[(USER, PASSWORD, "user", NAME)]) as srv:
            env = dict(os.environ, YZ_BASE="https://localhost:%d" % srv.port, YZ_USER=USER,
                       YZ_PASS=PASSWORD, YZ_NAME=NAME,
                       YZ_ARTIFACTS=os.environ.get("YZ_ARTIFACTS",
                                                   os.path.join(HERE, "artifacts")))
            cp = subprocess.run(["node", os.path.join(HERE, "login.mjs")], env=env,
                                capture_output=True, text=True, timeout=120)
            sys.stdout.write(cp.stdout)
            sys.stderr.write(cp.stderr)
            self.assertEqual(cp.returncode, 0, "login.mjs failed")
            for step in ("ok signed in", 'ok app shows the name "%s"' % NAME, "ok signed out",
                         "ok wrong password rejected"):
                self.assertIn(step, cp.stdout)
            # the browser's sign-in, sign-out and failed sign-in reached the audit trail,
            # with chromium's User-Agent as the client, and the chain is intact
            db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.data, "audit.db"),
                                 uri=True)
            rows = db.execute("SELECT type, client FROM audit WHERE actor = ? ORDER BY id",
                              (USER,)).fetchall()
            db.close()
            types = [t for t, _ in rows]
            self.assertIn("auth.login.ok", types)
            self.assertIn("auth.logout", types)
            self.assertIn("auth.login.fail", types)
            self.assertTrue(all("Chrome" in c for t, c in rows if t.startswith("auth.")), rows)
            r = srv.cli("audit", "verify", "--data", srv.data)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    yz.main()  # the server logs are printed when something failed
