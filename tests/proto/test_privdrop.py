#!/usr/bin/env python3
"""Started as root, `yizhan serve` binds its ports and then runs without root (DESIGN.md 1:
"Parsers never run as root"). Skipped unless the tests run as root."""

import os
import unittest

import yzharness as yz

SRV = None
USER = ("pd@example.test", "pd-password-123", "user", "PD")


def setUpModule():
    global SRV
    if os.geteuid() != 0:
        raise unittest.SkipTest("not running as root")
    SRV = yz.Server(users=[USER], name="test_privdrop")
    SRV.start()


def tearDownModule():
    if SRV:
        SRV.stop()


def ids(status_path):
    """-> {'Uid': [real, effective, saved, fs], 'Gid': [...], 'Groups': [...]}"""
    out = {}
    with open(status_path) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
    return out


def tasks_of(pid):
    """Every thread of pid and of its child processes."""
    found = []
    todo = [pid]
    while todo:
        p = todo.pop()
        tdir = "/proc/%d/task" % p
        for t in os.listdir(tdir):
            found.append("%s/%s/status" % (tdir, t))
            try:
                with open("%s/%s/children" % (tdir, t)) as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
    return found


class PrivDrop(unittest.TestCase):
    def test_uids_not_root(self):
        st = ids("/proc/%d/status" % SRV.pid)
        real, eff, saved, fs = st["Uid"]
        self.assertNotEqual(real, 0, "real uid is root")
        self.assertNotEqual(eff, 0, "effective uid is root")
        self.assertNotEqual(saved, 0, "saved uid is root: root can be regained")
        self.assertNotEqual(fs, 0, "filesystem uid is root")

    def test_every_thread_and_child(self):
        for path in tasks_of(SRV.pid):
            st = ids(path)
            self.assertNotIn(0, st["Uid"], "%s: Uid %r" % (path, st["Uid"]))

    def test_groups_not_root(self):
        st = ids("/proc/%d/status" % SRV.pid)
        self.assertNotIn(0, st["Gid"], "Gid %r" % st["Gid"])
        self.assertNotIn(0, st["Groups"], "supplementary groups %r" % st["Groups"])

    def test_still_works(self):
        """After dropping root the daemon can still read and write its data dir."""
        s = yz.login(SRV, USER[0], USER[1])
        self.assertEqual(s.me()["address"], USER[0])
        self.assertEqual(s.logout().status, 204)


if __name__ == "__main__":
    yz.main()
