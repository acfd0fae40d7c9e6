#!/usr/bin/env bash
# bench/smtp.sh: SMTP inbound throughput, latency and delivery of Yizhan against Postfix.
# A benchmark, not a test: never registered with meson test. See docs/BENCHMARKS.md.
#
# Usage: bench/smtp.sh [--record] [--messages N] [--size BYTES] [--sessions "1 10 50"]
#                      [--rounds N] [--build DIR] [--dir DIR] [--keep] [--perf]
#                      [--settle S]
#   --record          rewrite the results block of the SMTP section of docs/BENCHMARKS.md
#   --messages N      messages per client run (default 2000)
#   --size BYTES      message body size (default 30720: smtp-source -l, smtplat -l)
#   --sessions LIST   concurrent sessions per run (default "1 10 50")
#   --rounds N        interleaved rounds (default 3): fsync probe, Postfix, Yizhan, smtp-sink
#   --build DIR       Yizhan build directory (default build-bsmtp: meson setup
#                     --buildtype=release -Dtests=false when it does not exist yet)
#   --dir DIR         make the temporary directory under DIR (default ${TMPDIR:-/tmp}); it
#                     must be reachable by yizhan's service user and by nobody (chmod 755)
#   --keep            keep the temporary directory (data dirs, Maildir, Postfix queue)
#   --perf            perf record (call graphs, DWARF) the Yizhan daemon during the last
#                     round's smtp-source run at the largest session count, into the results
#                     directory (perf report -i yizhan-s50.perf --children --sort sym)
#   --settle S        before each round's Postfix and Yizhan runs: sync, then wait until S
#                     seconds (default 61; 0 = off) have passed since files were last deleted
#                     (see "File churn between targets" in docs/BENCHMARKS.md)
#
# Targets, all on 127.0.0.1, each receiving for bench@bench.test without AUTH:
#   postfix   a private Postfix instance (its own config dir, queue and port; `postfix -c`),
#             default settings but for: loopback only, virtual(8) delivery of bench.test into
#             a Maildir, no chroot, no aliases, a log file instead of syslog
#   yizhan    yizhan serve, port_base + 25 (inbound), [dns] pointed at a dead local port
#   sink      Postfix's smtp-sink: answers 250 to everything and keeps nothing (the ceiling)
# Per round: the fsync probe (bench/smtp/fsync_probe.py), then for each target and each
# session count two client runs of N messages: Postfix's smtp-source -d (accepted/s, and
# delivered/s as the mailbox fills), then bench/smtp/smtplat.c (the same dialogue, timing every
# end-of-DATA -> reply; also the per-message delivery lag). bench/smtp/measure.py runs each
# client, polls the mailbox and takes the CPU time the server used (yizhan's threads; Postfix's
# master and its children). Raw output goes to bench/results/DATE-smtp/ (not committed).
#
# Installs Postfix with apt-get when smtp-source is missing (debconf "No configuration", and
# a policy-rc.d that keeps the system service from starting during the install); the system
# instance is never configured or used. Needs python3 (stdlib only), cc, meson, ninja.
# Every client run has a time bound; every server is stopped and the temporary directory is
# removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-bsmtp"
RECORD=0
N=2000
SIZE=30720
SESSIONS="1 10 50"
ROUNDS=3
PARENT=${TMPDIR:-/tmp}
KEEP=0
PERF=0
SETTLE=61
ARGS="$*"
while [ $# -gt 0 ]; do
	case "$1" in
	--record) RECORD=1 ;;
	--messages) N=$2; shift ;;
	--size) SIZE=$2; shift ;;
	--sessions) SESSIONS=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--build) BUILD=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift ;;
	--dir) PARENT=$2; shift ;;
	--keep) KEEP=1 ;;
	--perf) PERF=1 ;;
	--settle) SETTLE=$2; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
	*) echo "smtp.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
for v in "$N" "$SIZE" "$ROUNDS" $SESSIONS; do
	case "$v" in '' | *[!0-9]* | 0) echo "smtp.sh: '$v' is not a positive number" >&2; exit 2 ;; esac
done
case "$SETTLE" in '' | *[!0-9]*) echo "smtp.sh: --settle '$SETTLE' is not a number" >&2; exit 2 ;; esac
for tool in python3 cc meson ninja timeout; do
	command -v "$tool" >/dev/null || { echo "smtp.sh: $tool not found" >&2; exit 2; }
done
[ "$PERF" = 1 ] && ! command -v perf >/dev/null && { echo "smtp.sh: perf not found" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "smtp.sh: run as root (Postfix's master and apt-get need it)" >&2; exit 2; }

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- Postfix: install when missing --------------------------------------------------------
if [ ! -x /usr/sbin/smtp-source ] || [ ! -x /usr/sbin/smtp-sink ] || ! command -v postfix >/dev/null; then
	log "installing postfix (apt-get, DEBIAN_FRONTEND=noninteractive)"
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	POLICY=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		# keep the system service from starting (it would listen on port 25) during the install
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		POLICY=/usr/sbin/policy-rc.d
	fi
	set +e
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q postfix >/dev/null
	rc=$?
	set -e
	[ -n "$POLICY" ] && rm -f "$POLICY"
	[ "$rc" = 0 ] || { echo "smtp.sh: apt-get install postfix failed ($rc)" >&2; exit 1; }
fi
PF_VERSION=$(postconf -d -h mail_version 2>/dev/null || echo "?")

# --- build --------------------------------------------------------------------------------
if [ ! -f "$BUILD/build.ninja" ]; then
	log "meson setup $BUILD --buildtype=release -Dtests=false"
	meson setup "$BUILD" "$ROOT" --buildtype=release -Dtests=false >/dev/null
fi
built=0
for attempt in 1 2 3; do
	if NINJA_OUT=$(ninja -C "$BUILD" server/yizhan 2>&1); then
		built=1
		break
	fi
	log "build failed (attempt $attempt of 3; other work may be in progress), retrying in 30 s"
	sleep 30
done
if [ "$built" = 0 ]; then
	printf '%s\n' "$NINJA_OUT" | tail -n 30 >&2
	echo "smtp.sh: the build failed (ninja -C $BUILD server/yizhan)" >&2
	exit 1
fi
YZ="$BUILD/server/yizhan"

mkdir -p "$PARENT"
WORK=$(mktemp -d "$PARENT/yz-smtp.XXXXXX")
chmod 0755 "$WORK" # yizhan drops root to its service user; virtual(8) delivers as nobody
PIDS=()
PFC=""
cleanup() {
	local p
	if [ -n "$PFC" ] && [ -f "$WORK/pf/queue/pid/master.pid" ]; then
		timeout 30 postfix -c "$PFC" stop >/dev/null 2>&1 || true
		p=$(tr -dc 0-9 <"$WORK/pf/queue/pid/master.pid" 2>/dev/null || true)
		if [ -n "$p" ]; then
			for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$p" 2>/dev/null || true
		fi
	fi
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "$KEEP" = 1 ]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES="$ROOT/bench/results/$STAMP-smtp"
mkdir -p "$RES"
RUNS="$RES/runs.txt"
: >"$RUNS"

SMTPLAT="$WORK/smtplat"
cc -O2 -Wall -pthread -o "$SMTPLAT" "$ROOT/bench/smtp/smtplat.c"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# A port base whose yizhan listeners (base + 25, 443, 587, 465, 143, 993, 110, 995) are free.
free_port_base() {
	python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(100):
    base = random.randrange(20000, 50001, 1000)
    if all(free(base + o) for o in (25, 443, 587, 465, 143, 993, 110, 995)):
        print(base); break
else:
    raise SystemExit("no free port base")
PY
}
# Wait until 127.0.0.1:PORT sends an SMTP greeting (at most 30 s).
wait_smtp() {
	python3 - "$1" <<'PY'
import socket, sys, time
end = time.time() + 30
while True:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
            if s.recv(512).startswith(b"220"):
                s.sendall(b"QUIT\r\n")
                break
    except OSError:
        pass
    if time.time() > end:
        raise SystemExit("no SMTP greeting on port %s" % sys.argv[1])
    time.sleep(0.1)
PY
}

RCPT="bench@bench.test"
FROM="source@client.test"

# --- yizhan -------------------------------------------------------------------------------
DATA="$WORK/yizhan"
BASE=$(free_port_base)
YZ_PORT=$((BASE + 25))
DNS_PORT=$(free_port) # nothing answers there: lookups fail at once
"$YZ" init --data "$DATA" --domain bench.test --port-base "$BASE" >/dev/null
printf 'bench-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
	"$YZ" user add --data "$DATA" "$RCPT" --password-stdin >/dev/null
printf '\n[dns]\nservers = 127.0.0.1:%s\ntimeout = 1\n' "$DNS_PORT" >>"$DATA/yizhan.conf"
"$YZ" serve --data "$DATA" >"$WORK/yizhan.log" 2>&1 &
YZ_PID=$!
PIDS+=("$YZ_PID")
wait_smtp "$YZ_PORT"
MAILDB=$(python3 - "$DATA/directory.db" "$RCPT" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(db.execute("SELECT id FROM accounts WHERE address = ?", (sys.argv[2],)).fetchone()[0])
PY
)
# the account's mailbox appears with its first delivery: send one message to create it
"$SMTPLAT" -s 1 -m 1 -l 100 -f "$FROM" -t "$RCPT" "127.0.0.1:$YZ_PORT" >/dev/null
for _ in $(seq 100); do
	MAILDB_PATH=$(find "$DATA/accounts" -name mail.db -path "*/$MAILDB/*" 2>/dev/null | head -n 1)
	[ -n "$MAILDB_PATH" ] && break
	sleep 0.1
done
[ -n "$MAILDB_PATH" ] || { echo "smtp.sh: no mail.db for account $MAILDB" >&2; exit 1; }

# --- postfix ------------------------------------------------------------------------------
PF="$WORK/pf"
PFC="$PF/etc"
PF_PORT=$(free_port)
mkdir -p "$PFC" "$PF/queue" "$PF/data" "$PF/mail"
chown postfix:postfix "$PF/data"
chown nobody:nogroup "$PF/mail"
MASTER_CF=/etc/postfix/master.cf
[ -f "$MASTER_CF" ] || MASTER_CF=/usr/share/postfix/master.cf.dist
# the smtp service on our port instead of 25; the rest of Debian's master.cf as it is
awk -v port="$PF_PORT" '$1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port } { print }' \
	"$MASTER_CF" >"$PFC/master.cf"
cat >"$PFC/main.cf" <<EOF
# private instance for bench/smtp.sh: Postfix defaults except what is set here
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = pf.bench.test
mydestination =
alias_maps =
alias_database =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = texthash:$PFC/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
EOF
echo "$RCPT bench/Maildir/" >"$PFC/vmailbox"
postconf -c "$PFC" -F '*/*/chroot = n' # the chroot would need copies of /etc files
postfix -c "$PFC" check
postfix -c "$PFC" start >/dev/null 2>&1 || {
	tail -n 20 "$PF/maillog" >&2 || true
	echo "smtp.sh: postfix -c $PFC start failed" >&2
	exit 1
}
wait_smtp "$PF_PORT"
PF_MASTER=$(tr -dc 0-9 <"$PF/queue/pid/master.pid")
MAILDIR="$PF/mail/bench/Maildir"

# --- smtp-sink ----------------------------------------------------------------------------
SINK_PORT=$(free_port)
smtp-sink -u nobody -h sink.bench.test "127.0.0.1:$SINK_PORT" 256 >"$WORK/sink.log" 2>&1 &
PIDS+=($!)
wait_smtp "$SINK_PORT"

# --- runs ---------------------------------------------------------------------------------
T_CLIENT=$((120 + N * 2 / 10)) # a bound per client run: far above the slowest rate seen
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)
MAX_S=0
for s in $SESSIONS; do [ "$s" -gt "$MAX_S" ] && MAX_S=$s; done

# one client run: record KIND ROUND TARGET SESSIONS CLIENT and measure.py's line
run_client() {
	local round=$1 target=$2 s=$3 client=$4
	local box=() port cmd=() acc="$WORK/accepts" out extra=""
	case "$target" in
	postfix) port=$PF_PORT; box=(--maildir "$MAILDIR" --cpu-pid "$PF_MASTER") ;;
	yizhan) port=$YZ_PORT; box=(--maildb "$MAILDB_PATH" --cpu-pid "$YZ_PID") ;;
	sink) port=$SINK_PORT ;;
	esac
	rm -f "$acc"
	if [ "$client" = source ]; then
		cmd=(timeout "$T_CLIENT" smtp-source -d -s "$s" -m "$N" -l "$SIZE" -M client.test
			-f "$FROM" -t "$RCPT" "127.0.0.1:$port")
	else
		cmd=("$SMTPLAT" -s "$s" -m "$N" -l "$SIZE" -T "$T_CLIENT" -f "$FROM" -t "$RCPT"
			-o "$acc" "127.0.0.1:$port")
		box+=(--accepts "$acc")
	fi
	local perf_pid=""
	if [ "$PERF" = 1 ] && [ "$target" = yizhan ] && [ "$client" = source ] &&
		[ "$round" = "$ROUNDS" ] && [ "$s" = "$MAX_S" ]; then
		# DWARF unwinding: the release build has no frame pointers, so plain -g loses the stacks
		perf record -F 199 --call-graph dwarf,16384 -p "$YZ_PID" -o "$RES/yizhan-s$s.perf" \
			>/dev/null 2>&1 &
		perf_pid=$!
		sleep 0.5
	fi
	out=$(python3 "$ROOT/bench/smtp/measure.py" --count "$N" "${box[@]}" -- "${cmd[@]}" \
		2>>"$RES/clients.err")
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid" 2>/dev/null || true
		wait "$perf_pid" 2>/dev/null || true
	fi
	local first rest
	first=$(printf '%s\n' "$out" | sed -n 1p)
	rest=$(printf '%s\n' "$out" | sed -n 2p)
	if [ "$target" = yizhan ]; then
		# the search index drains behind delivery: wait for it, so the next run starts quiet
		extra=" index_drain_s=$(python3 "$ROOT/bench/smtp/index_drain.py" "$MAILDB_PATH")"
	fi
	if [ "$target" = postfix ]; then
		# keep the directory small without deleting anything during the runs: deleted inodes
		# would burden the next target (settle below); the old ones go with $WORK at the end
		PF_OLD=$((PF_OLD + 1))
		mv "$MAILDIR/new" "$WORK/pf-old.$PF_OLD"
		install -d -o nobody -g nogroup -m 0700 "$MAILDIR/new"
		LAST_FREE=$(date +%s) # Postfix's queue files, made and deleted for every message
	fi
	echo "run round=$round target=$target sessions=$s client=$client $first $rest$extra" >>"$RUNS"
	printf '  %-7s s=%-3s %-7s %s %s\n' "$target" "$s" "$client" "$first" "$rest" >&2
}

# On ext4 without a journal (this /tmp), a new inode skips every inode freed in the last 60 s
# (300 s while its inode table block is dirty), and reads the inode table for each one it
# skips. So files one target deleted slow down the next target's file creation. Before the
# Postfix and the Yizhan runs of a round: sync, then wait until nothing was deleted for
# $SETTLE s. Each server still pays for what it deletes itself during its own runs.
settle() {
	[ "$SETTLE" = 0 ] && return 0
	sync
	local wait=$((LAST_FREE + SETTLE - $(date +%s)))
	if [ "$wait" -gt 0 ]; then
		log "  settle: waiting $wait s for the last deleted inodes to age"
		sleep "$wait"
	fi
}
LAST_FREE=$(date +%s) # whatever ran before this script (an earlier run's removed directory)
PF_OLD=0
for r in $(seq "$ROUNDS"); do
	log "round $r of $ROUNDS: fsync probe"
	probe=$(python3 "$ROOT/bench/smtp/fsync_probe.py" "$WORK/probe")
	LAST_FREE=$(date +%s) # the probe removes its files
	echo "probe round=$r load=$(cut -d' ' -f1 /proc/loadavg) $probe" >>"$RUNS"
	log "  $probe"
	for target in postfix yizhan sink; do
		log "round $r: $target"
		[ "$target" = sink ] || settle
		for s in $SESSIONS; do
			run_client "$r" "$target" "$s" source
			run_client "$r" "$target" "$s" smtplat
		done
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
RUN_MIN=$(awk -v a="$T_START" -v b="$(date +%s)" 'BEGIN { printf "%.1f", (b - a) / 60 }')

# --- report -------------------------------------------------------------------------------
cp "$PF/maillog" "$RES/postfix-maillog.txt" 2>/dev/null || true
grep -v 'msg="accepted"\|result=delivered\|msg="disconnect"\|msg="connect"' "$WORK/yizhan.log" \
	>"$RES/yizhan-log-other.txt" 2>/dev/null || true
cp "$PFC/main.cf" "$RES/postfix-main.cf"
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- lib store mta server 2>/dev/null || REV="$REV + uncommitted changes"
BTYPE=$(python3 -c 'import json,sys; o={x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}; print(o["buildtype"], "b_sanitize=" + str(o["b_sanitize"]))' \
	"$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null || echo unknown)
{
	echo "cpu=$CPU"
	echo "cpus=$(nproc)"
	echo "mem_gb=$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
	echo "fs=$(df -T "$WORK" | awk 'NR == 2 {print $2}')"
	echo "load_before=$LOAD_BEFORE"
	echo "load_after=$LOAD_AFTER"
	echo "rev=$REV"
	echo "build=$BTYPE"
	echo "postfix=$PF_VERSION"
	echo "sqlite=$(pkg-config --modversion sqlite3 2>/dev/null || echo '?')"
	echo "messages=$N"
	echo "size=$SIZE"
	echo "sessions=$SESSIONS"
	echo "rounds=$ROUNDS"
	echo "args=$ARGS"
	echo "run_min=$RUN_MIN"
} >"$RES/run.txt"

python3 - "$RES" >"$RES/report.md" <<'PY'
import os, re, statistics, sys
res = sys.argv[1]
run = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(res, "run.txt")) if "=" in l)
def kv(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))
runs, probes = [], []
for line in open(os.path.join(res, "runs.txt")):
    (runs if line.startswith("run ") else probes).append(kv(line))
sessions = [int(x) for x in run["sessions"].split()]
N = int(run["messages"])
def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None
def med(target, s, client, key):
    v = [num(r.get(key)) for r in runs if r["target"] == target and int(r["sessions"]) == s
         and r["client"] == client]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
def rng(target, s, client, key):
    v = [num(r.get(key)) for r in runs if r["target"] == target and int(r["sessions"]) == s
         and r["client"] == client]
    v = [x for x in v if x is not None]
    return (min(v), max(v)) if v else None
def bad(target, s):
    rs = [r for r in runs if r["target"] == target and int(r["sessions"]) == s]
    return sum(1 for r in rs if r.get("rc") != "0")
def f0(x): return "—" if x is None else "%.0f" % x
def f2(x): return "—" if x is None else "%.2f" % x
def f1(x): return "—" if x is None else "%.1f" % x
def ratio(a, b): return None if a is None or not b else a / b
def goal(ok): return "met" if ok else "**missed**"
out = []
P = out.append
# what goes into BENCHMARKS.md says --record; a run without it says how it was run
recorded = "--record" in run["args"].split()
rest = " ".join(a for a in run["args"].split() if a != "--record")
P("%s %s with `bash bench/smtp.sh%s%s` (%d messages of %d bytes per client run, "
  "%s rounds; %.1f min)." % ("Recorded" if recorded else "Run",
  os.popen("date -u '+%Y-%m-%d %H:%M UTC'").read().strip(),
  " --record" if recorded else "", " " + rest if rest else "",
  N, int(run["size"]), run["rounds"], float(run["run_min"])))
P("")
P("- Machine: %s CPUs, %s, %s GB; %s under the temporary directory; load average before/after: "
  "%s / %s. The clients, the servers and anything else running share these CPUs." % (
      run["cpus"], run["cpu"], run["mem_gb"], run["fs"], run["load_before"], run["load_after"]))
P("- Yizhan %s, build `%s`, default config but `[dns]` pointed at a dead local port; "
  "Postfix %s (private instance, defaults, virtual(8) into a Maildir); SQLite %s." % (
      run["rev"], run["build"], run["postfix"], run["sqlite"]))
P("")
P("fsync probe (30 KB files on the same file system; median of each round's p50, in ms): "
  "write + fdatasync of a new file **%s**, SQLite WAL commit (synchronous=FULL) **%s**, "
  "write + syncfs **%s**; per round: %s." % (
      f2(statistics.median(float(p["fdatasync_p50_ms"]) for p in probes)),
      f2(statistics.median(float(p["sqlite_p50_ms"]) for p in probes)),
      f2(statistics.median(float(p["syncfs_p50_ms"]) for p in probes)),
      "; ".join("%s / %s / %s (load %s)" % (p["fdatasync_p50_ms"], p["sqlite_p50_ms"],
                                           p["syncfs_p50_ms"], p["load"]) for p in probes)))
P("")
P("Medians of the rounds (accepted/s with the range over the rounds). smtp-source: accepted/s "
  "over its wall clock, delivered/s from its start to the last message in the mailbox, lag = "
  "its last reply to the last message in the mailbox. smtplat: the same dialogue, "
  "end-of-DATA → reply latency of every message, and per-message delivery lag (k-th delivery "
  "against k-th acceptance).")
P("")
P("| target | sessions | smtp-source accepted/s | delivered/s | lag, last (s) | smtplat accepted/s | p50 (ms) | p99 (ms) | delivery lag p50 / max (s) | failed runs |")
P("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
label = {"postfix": "Postfix %s" % run["postfix"], "yizhan": "Yizhan", "sink": "smtp-sink (ceiling)"}
for s in sessions:
    for t in ("postfix", "yizhan", "sink"):
        a = med(t, s, "source", "accepted_per_s")
        ar = rng(t, s, "source", "accepted_per_s")
        la = med(t, s, "smtplat", "accepted_per_s")
        box = t != "sink"
        P("| %s | %d | %s (%s–%s) | %s | %s | %s | %s | %s | %s | %d |" % (
            label[t], s, f0(a), f0(ar[0]) if ar else "—", f0(ar[1]) if ar else "—",
            f0(med(t, s, "source", "delivered_per_s")) if box else "—",
            f2(med(t, s, "source", "lag_last_s")) if box else "—",
            f0(la), f2(med(t, s, "smtplat", "p50_ms")), f2(med(t, s, "smtplat", "p99_ms")),
            "%s / %s" % (f2(med(t, s, "smtplat", "lag_p50_s")), f2(med(t, s, "smtplat", "lag_max_s")))
            if box else "—", bad(t, s)))
P("")
def cpu_ms(t, s):
    v = med(t, s, "source", "cpu_s")
    return None if v is None else v * 1000 / N
P("Server CPU per message (user + system of all its threads and processes, from the start of "
  "the smtp-source run to the last message in the mailbox; median of the rounds), Postfix / "
  "Yizhan: %s ms at %s sessions. The search index caught up %s s (median) after the last "
  "delivery." % (
      ", ".join("%s / %s" % (f2(cpu_ms("postfix", s)), f2(cpu_ms("yizhan", s))) for s in sessions),
      " / ".join(str(s) for s in sessions),
      f1(statistics.median([float(r["index_drain_s"]) for r in runs
                            if r["target"] == "yizhan" and "index_drain_s" in r] or [0]))))
P("")
P("| sessions | Yizhan ÷ Postfix, accepted | Yizhan ÷ Postfix, delivered | Yizhan ÷ smtp-sink, accepted | Postfix ÷ smtp-sink, accepted |")
P("|---:|---:|---:|---:|---:|")
R = {}
for s in sessions:
    ya, pa, sa = (med(t, s, "source", "accepted_per_s") for t in ("yizhan", "postfix", "sink"))
    yd, pd = (med(t, s, "source", "delivered_per_s") for t in ("yizhan", "postfix"))
    R[s] = (ratio(ya, pa), ratio(yd, pd), ratio(ya, sa), ratio(pa, sa))
    P("| %d | %s | %s | %s | %s |" % ((s,) + tuple(f2(x) for x in R[s])))
P("")
P("Goals (from the issue):")
P("")
for s in sessions:
    want = 1.0 if s == 1 else 2.0
    ra, rd = R[s][0], R[s][1]
    P("- ≥ %.0f× Postfix at %d session%s: accepted **%s×** (%s), delivered **%s×** (%s)." % (
        want, s, "" if s == 1 else "s", f2(ra), goal(ra is not None and ra >= want), f2(rd),
        goal(rd is not None and rd >= want)))
smax = max(sessions)
lag = med("yizhan", smax, "source", "lag_last_s")
lagmax = med("yizhan", smax, "smtplat", "lag_max_s")
P("- delivery lag ≤ 0.5 s at %d sessions: last message **%s s** after the last 250 (smtp-source), "
  "worst per-message lag **%s s** (smtplat) (%s)." % (
      smax, f2(lag), f2(lagmax), goal(lag is not None and lag <= 0.5 and
                                      (lagmax is None or lagmax <= 0.5))))
P("- accepted ≥ 0.5× the smtp-sink ceiling: %s." % ", ".join(
    "**%s×** at %d (%s)" % (f2(R[s][2]), s, goal(R[s][2] is not None and R[s][2] >= 0.5))
    for s in sessions))
print("\n".join(out))
PY

echo
sed -n '/^| target/,$p' "$RES/report.md"
echo
echo "raw output: bench/results/$STAMP-smtp/"

if [ "$RECORD" = 1 ]; then
	DOC="$ROOT/docs/BENCHMARKS.md"
	python3 - "$DOC" "$RES/report.md" <<'PY'
import sys
doc, rep = sys.argv[1], open(sys.argv[2]).read()
begin, end = "<!-- smtp-results:begin -->", "<!-- smtp-results:end -->"
text = open(doc).read()
if begin not in text or end not in text:
    raise SystemExit("smtp.sh: %s has no %s ... %s markers" % (doc, begin, end))
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(doc, "w").write(head + begin + "\n" + rep.rstrip("\n") + "\n" + end + tail)
PY
	echo "recorded in docs/BENCHMARKS.md"
fi
