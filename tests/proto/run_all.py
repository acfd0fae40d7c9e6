#!/usr/bin/env python3
"""Run every tests/proto/test_*.py as its own process (each starts its own server on its own
ports) and summarise. Exit status 0 only if all passed.

    python3 tests/proto/run_all.py [-j N] [-v] [test_http test_login ...]
"""

import argparse
import concurrent.futures
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(path, verbose):
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, path], capture_output=True, text=True)
    return path, p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", type=int, default=1, help="modules run in parallel")
    ap.add_argument("-v", action="store_true", help="print every module's output")
    ap.add_argument("modules", nargs="*")
    a = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    if a.modules:
        want = {m if m.endswith(".py") else m + ".py" for m in a.modules}
        paths = [p for p in paths if os.path.basename(p) in want]
    failed = []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max(1, a.j)) as ex:
        for path, rc, out, dt in ex.map(lambda p: run(p, a.v), paths):
            name = os.path.basename(path)
            print("%-22s %s  %5.1fs" % (name, "ok  " if rc == 0 else "FAIL", dt), flush=True)
            if rc != 0 or a.v:
                print(out)
            if rc != 0:
                failed.append(name)
    print("%d modules, %d failed (%s) in %.1fs" % (len(paths), len(failed),
                                                  " ".join(failed) or "-",
                                                  time.monotonic() - t0))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
