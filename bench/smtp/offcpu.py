#!/usr/bin/env python3
"""offcpu.py: where the threads of yizhan serve wait, from a perf sched_switch recording.

A benchmark helper, not a test (docs/BENCHMARKS.md). Python standard library only.

    perf record -e sched:sched_switch --call-graph dwarf,16384 -p $(pidof yizhan) -o off.perf
    (run a client, then Ctrl-C perf)
    perf script -i off.perf -F tid,time,trace,ip,sym > off.txt
    python3 bench/smtp/offcpu.py off.txt [--messages N]

Each event is a thread leaving the CPU, with its stack. The time until the same thread's next
switch-out is charged to the reason of this one (the thread was off the CPU for most of it;
its short run before the next switch-out is included, so figures are slight overestimates).
Threads are told apart by the root of their stacks (worker = mta/deliver.c delivery
threads, committer = store/queue.c, indexer_main = search/index.c, audit_run = the SMTP
audit thread, pool_main = the SMTP job pool, loop_main = event loops). Reasons: runnable
(preempted), SQLite busy-handler sleep, fdatasync, fsync, syncfs, rename, condition wait
(idle), and so on. With --messages N, a second table gives the busy sleeps and syncs per
message, by thread and by the Yizhan function that made the call.
"""
import argparse
import collections
import re

ROLES = ["indexer_main", "committer", "audit_run", "worker", "loop_main", "pool_main"]
YZ_FUNCS = re.compile(r"^(store_audit_append|mail_insert|mail_commit|mail_index_done|"
                      r"mta_queue_result|mta_queue_due|commit_batch|search_commit|blob_put|"
                      r"blob_sync|into_mailbox|result|audit|db_exec|search_index_drain|"
                      r"drain_account)\b")


def read(path):
    events, cur = [], None
    head = re.compile(r"\s*(\d+)\s+([\d.]+): prev_comm=.* prev_pid=\d+ prev_prio=\d+ "
                      r"prev_state=(\S+)")
    for line in open(path, errors="replace"):
        if not line.strip():
            if cur:
                events.append(cur)
            cur = None
            continue
        m = head.match(line)
        if m:
            cur = (int(m.group(1)), float(m.group(2)), m.group(3), [])
        elif cur:
            parts = line.split(None, 1)
            if len(parts) == 2:
                cur[3].append(parts[1].strip())
    if cur:
        events.append(cur)
    return events


def role(frames):
    for r in ROLES:
        if any(f == r or f.startswith(r + " ") for f in frames):
            return r
    return None


def reason(state, frames):
    if state.startswith("R"):
        return "runnable (preempted)"
    s = " ".join(frames)
    if "sqlite3InvokeBusyHandler" in s:
        return "sqlite busy sleep"
    for k in ("syncfs", "fdatasync", "fsync"):
        if k in s:
            return k
    if "usleep" in s or "nanosleep" in s:
        return "sleep"
    if "pthread_cond" in s:
        return "condition wait (idle)"
    if "lll_lock_wait" in s or "pthread_mutex_lock" in s:
        return "mutex"
    for k in ("epoll_wait", "pread", "pwrite", "openat", "mkdir", "rename", "unlink", "fcntl",
              "writev", "readv", "write", "read", "close"):
        if k in s:
            return k
    return "other"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("script")
    ap.add_argument("--messages", type=int, default=0)
    a = ap.parse_args()
    events = read(a.script)
    if not events:
        raise SystemExit("offcpu.py: no sched_switch events in %s" % a.script)
    t_end = max(e[1] for e in events)
    span = t_end - min(e[1] for e in events)
    by_tid = collections.defaultdict(list)
    for e in events:
        by_tid[e[0]].append(e)
    per_role = collections.defaultdict(lambda: collections.defaultdict(float))
    threads = collections.defaultdict(set)
    detail = collections.defaultdict(float)
    for tid, es in by_tid.items():
        es.sort(key=lambda e: e[1])
        r_tid = next((role(e[3]) for e in es if role(e[3])), "?")
        threads[r_tid].add(tid)
        for i, e in enumerate(es):
            dt = (es[i + 1][1] if i + 1 < len(es) else t_end) - e[1]
            why = reason(e[2], e[3])
            per_role[r_tid][why] += dt
            if why in ("sqlite busy sleep", "fdatasync", "fsync", "syncfs", "rename"):
                fn = [f.split()[0] for f in e[3] if YZ_FUNCS.match(f)]
                detail[(r_tid, why, " < ".join(fn[:3]) or "?")] += dt
    print("span %.2f s" % span)
    for r, d in sorted(per_role.items(), key=lambda x: -sum(x[1].values())):
        tot = sum(d.values())
        print("%s (%d threads, %.2f thread-s):" % (r, len(threads[r]), tot))
        for k, v in sorted(d.items(), key=lambda x: -x[1])[:10]:
            print("    %-24s %7.2f s %4.0f%%" % (k, v, 100 * v / tot if tot else 0))
    if a.messages:
        print("\nper message (%d): thread, reason, Yizhan function" % a.messages)
        for (r, why, fn), v in sorted(detail.items(), key=lambda x: -x[1])[:20]:
            print("    %6.2f ms  %-12s %-18s %s" % (1000 * v / a.messages, r, why, fn))


if __name__ == "__main__":
    main()
