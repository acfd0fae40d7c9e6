#!/usr/bin/env python3
"""index_drain.py: wait until Yizhan's search index has caught up with a mailbox.

A benchmark helper, not a test (docs/BENCHMARKS.md). Python standard library only.

usage: index_drain.py MAIL_DB [TIMEOUT_S]

Polls the mailbox's `index_queue` (read-only connection) every 0.1 s until it is empty or
TIMEOUT_S (default 300) have passed, and prints the seconds it waited, to one decimal.
bench/smtp.sh and bench/smtp/ab.sh call it after each run so the next one starts quiet.
"""
import sqlite3
import sys
import time


def main():
    path = sys.argv[1]
    limit = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    t0 = time.time()
    while time.time() - t0 < limit:
        try:
            if db.execute("SELECT count(*) FROM index_queue").fetchone()[0] == 0:
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.1)
    print("%.1f" % (time.time() - t0))


if __name__ == "__main__":
    main()
