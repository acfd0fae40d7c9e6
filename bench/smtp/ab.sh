#!/usr/bin/env bash
# bench/smtp/ab.sh: two Yizhan builds against each other, alternating, with smtp-source.
# A benchmark helper, not a test (docs/BENCHMARKS.md). For comparing a change with the
# commit before it; bench/smtp.sh is the benchmark against Postfix.
#
# Usage: bench/smtp/ab.sh BUILD_A BUILD_B [--pairs N] [--sessions "10 50"] [--messages N]
#   BUILD_A, BUILD_B  build directories holding server/yizhan (e.g. a worktree's build-bsmtp)
#   --pairs N         A then B, N times (default 3)
#   --sessions LIST   smtp-source sessions, one run each per server (default "10 50")
#   --messages N      messages of 30,720 bytes per run (default 2000)
#
# Each server gets a new data directory (yizhan init, one user, [dns] at a dead local port,
# as bench/smtp.sh does), is started, sent one message to create the mailbox, then one
# smtp-source run per session count; the search index is left to drain before the next run.
# The data directories are removed only at the end: deleting thousands of files makes ext4
# without a journal skip the freed inodes for a while, which slows every file the next server
# creates (docs/BENCHMARKS.md, "File churn between targets"); so wait half a minute after
# this script ends before the next benchmark. Prints one line per run:
# accepted/s, delivered/s and the daemon's CPU per message (bench/smtp/measure.py).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 2 ] || { sed -n 5,10p "$0" >&2; exit 2; }
A=$1 B=$2
shift 2
PAIRS=3 SESSIONS="10 50" N=2000
while [ $# -gt 0 ]; do
	case "$1" in
	--pairs) PAIRS=$2; shift ;;
	--sessions) SESSIONS=$2; shift ;;
	--messages) N=$2; shift ;;
	*) echo "ab.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
for b in "$A" "$B"; do
	[ -x "$b/server/yizhan" ] || { echo "ab.sh: no $b/server/yizhan" >&2; exit 2; }
done
command -v smtp-source >/dev/null || { echo "ab.sh: smtp-source missing (bench/smtp.sh installs Postfix)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/yz-ab.XXXXXX")
chmod 755 "$WORK"
SERVER=""
cleanup() {
	[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
SMTPLAT="$WORK/smtplat"
cc -O2 -pthread -o "$SMTPLAT" "$ROOT/bench/smtp/smtplat.c"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

run_server() { # label build dir
	local label=$1 yz=$2/server/yizhan data=$3 base port mdb
	for _ in $(seq 50); do
		base=$((20000 + RANDOM % 20000))
		port_free $((base + 25)) && port_free $((base + 443)) && break
	done
	port=$((base + 25))
	"$yz" init --data "$data" --domain bench.test --port-base "$base" >/dev/null
	printf 'ab-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
		"$yz" user add --data "$data" bench@bench.test --password-stdin >/dev/null
	printf '\n[dns]\nservers = 127.0.0.1:%s\ntimeout = 1\n' $((base + 99)) >>"$data/yizhan.conf"
	"$yz" serve --data "$data" >"$data.log" 2>&1 &
	SERVER=$!
	for _ in $(seq 100); do port_free "$port" || break; sleep 0.1; done
	"$SMTPLAT" -s 1 -m 1 -l 100 -f a@client.test -t bench@bench.test "127.0.0.1:$port" >/dev/null
	for _ in $(seq 100); do
		mdb=$(find "$data/accounts" -name mail.db 2>/dev/null | head -n 1)
		[ -n "$mdb" ] && break
		sleep 0.1
	done
	for s in $SESSIONS; do
		local out
		out=$(python3 "$ROOT/bench/smtp/measure.py" --count "$N" --maildb "$mdb" \
			--cpu-pid "$SERVER" -- timeout $((120 + N / 5)) smtp-source -d -s "$s" -m "$N" \
			-l 30720 -M client.test -f a@client.test -t bench@bench.test "127.0.0.1:$port" |
			head -n 1)
		python3 - "$label" "$s" "$N" "$out" <<'PY'
import sys
label, s, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
kv = dict(x.split("=", 1) for x in out.split() if "=" in x)
cpu = float(kv.get("cpu_s", "nan")) * 1000 / n
print("%s s=%-3s accepted/s %7s  delivered/s %7s  cpu ms/msg %.2f  rc=%s" % (
    label, s, kv.get("accepted_per_s", "?"), kv.get("delivered_per_s", "?"), cpu, kv.get("rc", "?")))
PY
		python3 "$ROOT/bench/smtp/index_drain.py" "$mdb" 120 >/dev/null
		sleep 2
	done
	kill "$SERVER"
	wait "$SERVER" 2>/dev/null || true
	SERVER=""
}

echo "A = $A, B = $B; $N messages of 30720 bytes per run; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$PAIRS"); do
	run_server "A" "$A" "$WORK/a$i"
	run_server "B" "$B" "$WORK/b$i"
done
