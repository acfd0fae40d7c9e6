#!/usr/bin/env python3
"""measure.py: run one SMTP load client and watch the mailbox fill, for bench/smtp.sh.

A benchmark helper, not a test (docs/BENCHMARKS.md). Python standard library only.

usage: measure.py --count N [--maildir DIR | --maildb FILE] [--accepts FILE]
                  [--wait S] [--poll S] -- COMMAND...

Runs COMMAND (smtp-source or smtplat, which sends N messages), and meanwhile polls the
mailbox every --poll seconds (default 0.02):
  --maildir DIR   files in DIR/new (Postfix's virtual(8) delivers there)
  --maildb FILE   rows of Yizhan's mail.db `messages` with an id above the largest id at the
                  start (read-only connection, WAL; the same as `select count(*) from messages`
                  less what was there before)
  neither         no mailbox (smtp-sink): only the client side is measured
After COMMAND exits, polling goes on until N messages are there or --wait seconds (default
120) have passed.

Prints one line of key=value:
  rc             COMMAND's exit status
  elapsed_s      COMMAND's wall clock (start to exit)
  accepted_per_s N / elapsed_s (smtp-source gives up on the first non-2xx reply, so a
                 run with rc=0 had every message accepted)
  delivered      messages in the mailbox at the end (new ones only)
  delivered_s    start of COMMAND to the moment the N-th message was seen in the mailbox
  delivered_per_s N / delivered_s
  lag_last_s     COMMAND's exit (its last reply) to the N-th message in the mailbox
With --cpu-pid PID (repeatable), also cpu_s: user + system CPU seconds the server used from
COMMAND's start to the end of the polling: PID's own (all its threads), the children it has
reaped (cutime, cstime) and its live children's (Postfix's master and the smtpd, cleanup,
qmgr, virtual, ... processes it runs; for yizhan serve, its threads).
With --accepts FILE (smtplat -o writes the time of each 2xx reply there), also the lag of every
message: sort the acceptance times a_1 <= ... <= a_N and the times d_k at which the mailbox
first held k new messages; lag_k = d_k - a_k (the k-th delivery against the k-th acceptance,
which is the per-message lag when delivery is in order and a lower bound otherwise):
  lag_p50_s, lag_p99_s, lag_max_s
Everything else COMMAND prints to stdout follows on the next line, unchanged.
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import threading
import time


def pct(v, p):
    v = sorted(v)
    if not v:
        return 0.0
    k = max(1, -(-len(v) * p // 100))
    return v[int(k) - 1]


class MaildirCount:
    def __init__(self, path):
        self.path = os.path.join(path, "new")
        self.base = self.count_all()

    def count_all(self):
        try:
            with os.scandir(self.path) as it:
                return sum(1 for _ in it)
        except FileNotFoundError:
            return 0

    def count(self):
        return self.count_all() - self.base


class MailDbCount:
    def __init__(self, path):
        self.db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5,
                                  check_same_thread=False)
        self.base = self.db.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]

    def count(self):
        try:
            return self.db.execute("SELECT count(*) FROM messages WHERE id > ?",
                                   (self.base,)).fetchone()[0]
        except sqlite3.OperationalError:  # busy: try again at the next poll
            return None


def cpu_s(pids):
    """CPU seconds of each PID (threads, reaped children) and of its live children."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None

    total = 0
    want = set(pids)
    for pid in pids:
        st = stat(pid)
        if st:  # fields after the name: state ppid ... utime(11) stime(12) cutime(13) cstime(14)
            total += int(st[11]) + int(st[12]) + int(st[13]) + int(st[14])
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in want:
            st = stat(int(name))
            if st and int(st[1]) in want:
                total += int(st[11]) + int(st[12])
    return total / tick


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--maildir")
    ap.add_argument("--maildb")
    ap.add_argument("--accepts")
    ap.add_argument("--wait", type=float, default=120.0)
    ap.add_argument("--poll", type=float, default=0.02)
    ap.add_argument("--cpu-pid", type=int, action="append", default=[])
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command")
    box = MaildirCount(a.maildir) if a.maildir else MailDbCount(a.maildb) if a.maildb else None

    seen = []  # (time, count) whenever the count grew
    stop = threading.Event()

    def poll():
        last = 0
        while not stop.is_set():
            n = box.count()
            t = time.time()
            if n is not None and n > last:
                seen.append((t, n))
                last = n
            if last >= a.count and done.is_set():
                break
            stop.wait(a.poll)

    done = threading.Event()
    cpu0 = cpu_s(a.cpu_pid)
    t_start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    th = None
    if box is not None:
        th = threading.Thread(target=poll, daemon=True)
        th.start()
    out, _ = proc.communicate()
    t_end = time.time()
    done.set()
    res = {"rc": proc.returncode, "elapsed_s": "%.3f" % (t_end - t_start),
           "accepted_per_s": "%.1f" % (a.count / (t_end - t_start))}
    if th is not None:
        th.join(a.wait)
        stop.set()
        th.join(1)
        got = seen[-1][1] if seen else 0
        res["delivered"] = got
        full = next((t for t, n in seen if n >= a.count), None)
        if full is not None:
            res["delivered_s"] = "%.3f" % (full - t_start)
            res["delivered_per_s"] = "%.1f" % (a.count / (full - t_start))
            res["lag_last_s"] = "%.3f" % max(0.0, full - t_end)
        else:
            res["delivered_s"] = res["delivered_per_s"] = res["lag_last_s"] = "n/a"
        if a.accepts and os.path.exists(a.accepts):
            acc = sorted(float(x) for x in open(a.accepts) if x.strip())
            lags, j = [], 0
            for k, t_acc in enumerate(acc, 1):
                while j < len(seen) and seen[j][1] < k:
                    j += 1
                if j == len(seen):
                    break
                lags.append(max(0.0, seen[j][0] - t_acc))
            if lags and len(lags) == len(acc):
                res["lag_p50_s"] = "%.3f" % pct(lags, 50)
                res["lag_p99_s"] = "%.3f" % pct(lags, 99)
                res["lag_max_s"] = "%.3f" % max(lags)
    if a.cpu_pid:
        res["cpu_s"] = "%.2f" % (cpu_s(a.cpu_pid) - cpu0)
    print(" ".join("%s=%s" % kv for kv in res.items()))
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
