#!/usr/bin/env python3
"""fsync_probe.py: what a durable write costs on this machine, for bench/smtp.sh.

A benchmark helper, not a test (docs/BENCHMARKS.md). Python standard library only.

usage: fsync_probe.py DIR [--rounds N] [--seconds S] [--size BYTES]

In DIR (on the file system the mail servers write to), three loops of N rounds each (at most
S seconds per loop, default 40 rounds and 5 s):

  fdatasync  create a new file, write BYTES (default 30720), fdatasync(), close: the cost of
             one durable small file (Postfix's cleanup and virtual each pay one per message)
  sqlite     one INSERT committed in a WAL database with synchronous=FULL (as Yizhan's queue
             and mail.db run): the cost of one small transaction
  syncfs     create a new file, write BYTES, close, syncfs() on the file system (what Yizhan's
             queue committer does once per batch): includes whatever else on the machine has
             dirty data on the same file system

Prints one line of key=value: NAME_p50_ms, NAME_p90_ms, NAME_n per loop. The files are
removed afterwards.
"""
import argparse
import ctypes
import os
import sqlite3
import sys
import time


def pct(v, p):
    v = sorted(v)
    if not v:
        return 0.0
    k = max(1, -(-len(v) * p // 100))
    return v[int(k) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--size", type=int, default=30720)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    data = os.urandom(a.size)
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}

    def loop(name, one):
        t = []
        end = time.monotonic() + a.seconds
        for i in range(a.rounds):
            t0 = time.perf_counter()
            one(i)
            t.append((time.perf_counter() - t0) * 1000)
            if time.monotonic() > end:
                break
        out[name + "_p50_ms"] = "%.3f" % pct(t, 50)
        out[name + "_p90_ms"] = "%.3f" % pct(t, 90)
        out[name + "_n"] = str(len(t))

    def fdatasync(i):
        fd = os.open(os.path.join(a.dir, "f%d" % i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.fdatasync(fd)
        os.close(fd)

    db = sqlite3.connect(os.path.join(a.dir, "probe.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    row = os.urandom(200)

    def commit(i):
        db.execute("INSERT INTO t (v) VALUES (?)", (row,))

    dfd = os.open(a.dir, os.O_RDONLY | os.O_DIRECTORY)

    def syncfs(i):
        fd = os.open(os.path.join(a.dir, "s%d" % i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.close(fd)
        if libc.syncfs(dfd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs")

    loop("fdatasync", fdatasync)
    loop("sqlite", commit)
    loop("syncfs", syncfs)
    db.close()
    os.close(dfd)
    for f in os.listdir(a.dir):
        os.unlink(os.path.join(a.dir, f))
    print(" ".join("%s=%s" % kv for kv in out.items()))


if __name__ == "__main__":
    sys.exit(main())
