#!/usr/bin/python3
"""bench/imap/imapbench.py: the IMAP measurements of bench/imap.sh against one server.

    imapbench.py --port P --cafile F --user U --password PW --pids PID[,PID] \
                 [--rare WORD --common WORD] [--idle 1000,10000] [--json OUT]

Measures, over TLS (implicit, port P):
  fetch_ms      LOGIN + SELECT INBOX + FETCH 1:1000 (UID FLAGS RFC822.SIZE
                BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)]) + LOGOUT, median
                of 7 runs (one warm-up run first)
  flags_ms      FETCH 1:* FLAGS on a logged-in, selected session, median of 7
  search_*_ms   SEARCH CHARSET UTF-8 TEXT <word>, p50 and p95 of 20, for a rare and a common word
  sessions_s    connect + TLS + LOGIN + SELECT INBOX + LOGOUT per second, 20 concurrent client
                processes, 10 s
  idle_kib_N    (RSS of the server's processes with N idle connections (TLS, logged in,
                INBOX selected, in IDLE) - RSS before) / N, in KiB; idle_pss_kib_N the same
                with PSS (shared pages split among the processes sharing them)
The client is Python (imaplib, multiprocessing, asyncio+ssl): the same client for both servers.
"""

import argparse
import asyncio
import imaplib
import json
import multiprocessing
import os
import resource
import ssl
import statistics
import sys
import time

HDRS = "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)])"


def ctx(cafile):
    c = ssl.create_default_context(cafile=cafile)
    c.check_hostname = False
    return c


def connect(a):
    m = imaplib.IMAP4_SSL("127.0.0.1", a.port, ssl_context=ctx(a.cafile), timeout=120)
    m.login(a.user, a.password)
    return m


def fetch_run(a):
    t0 = time.perf_counter()
    m = connect(a)
    m.select("INBOX")
    typ, d = m.fetch("1:1000", HDRS)
    assert typ == "OK" and len(d) >= 1000, (typ, len(d))
    m.logout()
    return (time.perf_counter() - t0) * 1000


def mem_kib(pids, key):
    """Sum of a memory figure over pids: "VmRSS" from status, or "Pss" from smaps_rollup
    (shared pages divided among the processes that map them: the fair figure for a server of
    many processes, whose RSS counts the same library and index pages once per process)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/%s" % (pid, "status" if key == "VmRSS" else "smaps_rollup")) as f:
                for ln in f:
                    if ln.startswith(key + ":"):
                        total += int(ln.split()[1])
        except OSError:
            pass
    return total


def rss_kib(pids):
    return mem_kib(pids, "VmRSS"), mem_kib(pids, "Pss")


def server_pids(spec):
    """'123' or '123,456' or 'dovecot:DIR' (every process whose command line names the
    config DIR, the dovecot master and its children)."""
    if spec.startswith("pgrep:"):
        pat = spec[6:]
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
                with open("/proc/%s/status" % pid) as f:
                    st = f.read()
            except OSError:
                continue
            if pat in cmd or ("PPid:\t" in st and any(
                    "PPid:\t%d\n" % p in st for p in _masters(pat))):
                out.append(int(pid))
        return out
    return [int(x) for x in spec.split(",")]


def _masters(pat):
    res = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if pat.encode() in f.read():
                        res.append(int(pid))
            except OSError:
                pass
    return res


def session_worker(args):
    port, cafile, user, password, seconds = args
    n = 0
    end = time.monotonic() + seconds
    c = ctx(cafile)
    while time.monotonic() < end:
        m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=c, timeout=60)
        m.login(user, password)
        m.select("INBOX")
        m.logout()
        n += 1
    return n


async def line(r):
    ln = await r.readline()
    if not ln:  # the server closed the connection (a limit, most likely): say so, never spin
        raise ConnectionError("connection closed by the server")
    return ln


async def until(r, prefix):
    while True:
        ln = await line(r)
        if ln.startswith(prefix):
            return ln
        if ln.startswith(b"* BYE"):
            raise ConnectionError(ln.decode(errors="replace").strip())


async def idle_conn(a, c, hold, ready):
    r, w = await asyncio.open_connection("127.0.0.1", a.port, ssl=c, limit=4096)
    await line(r)
    w.write(b"a LOGIN %s %s\r\n" % (a.user.encode(), a.password.encode()))
    if not (await until(r, b"a ")).startswith(b"a OK"):
        raise ConnectionError("LOGIN refused")
    w.write(b"b SELECT INBOX\r\n")
    await until(r, b"b ")
    w.write(b"c IDLE\r\n")
    await until(r, b"+")
    ready.append(1)
    await hold.wait()
    w.close()


async def idle_many(a, n, pids):
    c = ctx(a.cafile)
    hold = asyncio.Event()
    ready = []
    before = rss_kib(server_pids(pids))
    tasks = []
    failed = lambda: [t for t in tasks if t.done() and t.exception()]
    for _ in range(n):
        tasks.append(asyncio.ensure_future(idle_conn(a, c, hold, ready)))
        if len(tasks) % 200 == 0:  # let the handshakes catch up, for two minutes at most
            t0 = time.monotonic()
            while len(ready) < len(tasks) - 50 and not failed() and time.monotonic() - t0 < 120:
                await asyncio.sleep(0.01)
            if failed():
                print("idle connection failed: %s" % failed()[0].exception(), file=sys.stderr)
                break
    t0 = time.monotonic()
    while len(ready) < n and time.monotonic() - t0 < 600:
        await asyncio.sleep(0.1)
        if failed():
            break
    await asyncio.sleep(2)
    after = rss_kib(server_pids(pids))
    got = len(ready)
    hold.set()
    _, pending = await asyncio.wait(tasks, timeout=60)
    for t in pending:  # a connection that never got an answer
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return got, before, after


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--pids", required=True)
    p.add_argument("--rare", default="zeugma")
    p.add_argument("--common", default="project")
    p.add_argument("--idle", default="1000,10000")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--json")
    a = p.parse_args()
    res = {}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    fetch_run(a)
    runs = [fetch_run(a) for _ in range(7)]
    res["fetch_ms"] = statistics.median(runs)
    print("fetch 1000 headers (login+select+fetch): median %.1f ms" % res["fetch_ms"], file=sys.stderr)

    m = connect(a)
    m.select("INBOX")
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        typ, d = m.fetch("1:*", "(FLAGS)")
        runs.append((time.perf_counter() - t0) * 1000)
    res["flags_ms"] = statistics.median(runs)
    res["messages"] = len(d)
    print("FETCH 1:* FLAGS (%d): median %.1f ms" % (len(d), res["flags_ms"]), file=sys.stderr)
    for name, word in (("rare", a.rare), ("common", a.common)):
        runs, hits = [], 0
        for _ in range(20):
            m.literal = word.encode()
            t0 = time.perf_counter()
            typ, d = m.search("UTF-8", "TEXT")
            runs.append((time.perf_counter() - t0) * 1000)
            hits = len(d[0].split())
        runs.sort()
        res["search_%s_p50_ms" % name] = runs[len(runs) // 2]
        res["search_%s_p95_ms" % name] = runs[int(len(runs) * 0.95) - 1]
        res["search_%s_hits" % name] = hits
        print("SEARCH TEXT %s (%s): p50 %.1f ms p95 %.1f ms, %d hits" % (
            name, word, res["search_%s_p50_ms" % name], res["search_%s_p95_ms" % name], hits),
            file=sys.stderr)
    m.logout()

    with multiprocessing.Pool(a.clients) as pool:
        t0 = time.monotonic()
        counts = pool.map(session_worker, [(a.port, a.cafile, a.user, a.password, a.seconds)] * a.clients)
        el = time.monotonic() - t0
    res["sessions_s"] = sum(counts) / el
    print("sessions/s with %d clients: %.0f" % (a.clients, res["sessions_s"]), file=sys.stderr)

    for n in [int(x) for x in a.idle.split(",") if x]:
        got, before, after = asyncio.run(idle_many(a, n, a.pids))
        res["idle_%d_connected" % n] = got
        res["idle_kib_%d" % n] = (after[0] - before[0]) / got if got else None
        res["idle_pss_kib_%d" % n] = (after[1] - before[1]) / got if got else None
        print("idle IDLE connections: %d of %d, RSS %d -> %d KiB: %.1f KiB each; "
              "PSS %d -> %d KiB: %.1f KiB each" % (
                  got, n, before[0], after[0], res["idle_kib_%d" % n] or 0,
                  before[1], after[1], res["idle_pss_kib_%d" % n] or 0), file=sys.stderr)
        time.sleep(3)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
