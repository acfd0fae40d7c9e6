#!/bin/bash
# bench/imap.sh: Yizhan's IMAP server against Dovecot on the same 10,000 messages, in one run.
#
#   bench/imap.sh [--count N] [--idle 1000,10000] [--keep]        (as root: installs Dovecot)
#
# Steps: bench/gen_corpus.py writes the corpus as a Maildir; yizhan init + user add + import
# (stored and indexed), then `yizhan serve` on its own port base; Dovecot (dovecot-imapd from
# Debian, installed with apt-get if missing) runs in the foreground with its own config under
# WORK/dovecot (ports 11143/11993, Maildir of the same corpus, passwd-file, the same
# certificate), never as a system service. bench/imap/imapbench.py then measures both, over
# TLS, with the same client. Results: bench/results/TIME-imap/.
#
# Dovecot runs one process per IMAP connection, so its idle-connection RSS is measured at 1,000
# connections only (10,000 processes would not fit in this machine's memory).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
COUNT=10000
IDLE=1000,10000
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--count) COUNT=$2; shift 2 ;;
	--idle) IDLE=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) echo "usage: bench/imap.sh [--count N] [--idle N,N] [--keep]" >&2; exit 2 ;;
	esac
done
BUILD=${BUILD:-$ROOT/build-bench}
[ -d "$BUILD" ] || meson setup "$BUILD" --buildtype=release -Dtests=false >/dev/null
ninja -C "$BUILD" server/yizhan >/dev/null
YZ="$BUILD/server/yizhan"
ulimit -n 65536 || ulimit -n "$(ulimit -Hn)"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES="$ROOT/bench/results/$STAMP-imap"
mkdir -p "$RES"
WORK=$(mktemp -d /tmp/yzbench-imap-XXXXXX)
chmod 0711 "$WORK"
log() { echo "[imap.sh] $*" >&2; }
cleanup() {
	[ -n "${YZPID:-}" ] && kill "$YZPID" 2>/dev/null && wait "$YZPID" 2>/dev/null || true
	[ -n "${DVPID:-}" ] && kill "$DVPID" 2>/dev/null && wait "$DVPID" 2>/dev/null || true
	[ "$KEEP" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v dovecot >/dev/null; then
	log "installing dovecot-imapd"
	apt-get install -y -qq dovecot-imapd >/dev/null
fi
log "corpus: $COUNT messages"
python3 "$ROOT/bench/gen_corpus.py" --out "$WORK/mail" --count "$COUNT" >"$RES/gen.out"
chmod -R a+rX "$WORK/mail"

# --- yizhan ----------------------------------------------------------------------------------
BASE=$(python3 -c 'import random; print(random.randrange(20000, 50001, 1000))')
DATA="$WORK/data"
ADDR=bench@example.test
PW=bench-password-1
"$YZ" init --data "$DATA" --domain example.test --port-base "$BASE" >/dev/null
echo "$PW" | "$YZ" user add --data "$DATA" "$ADDR" --password-stdin >/dev/null
cat >>"$DATA/yizhan.conf" <<CONF

[imap]
max_sessions = 30000
max_per_ip = 30000
commands_per_second = 100000

[auth]
login_ip_per_minute = 100000
CONF
log "yizhan import"
"$YZ" import --data "$DATA" "$ADDR" "$WORK/mail" >"$RES/import.out" 2>&1
"$YZ" serve --data "$DATA" >"$RES/yizhan.log" 2>&1 &
YZPID=$!
for _ in $(seq 100); do
	python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $BASE + 993), 1)" 2>/dev/null && break
	sleep 0.2
done
# the process whose RSS counts: the daemon itself (after privilege drop it is the same pid)
log "measuring yizhan (pid $YZPID)"
python3 "$ROOT/bench/imap/imapbench.py" --port $((BASE + 993)) --cafile "$DATA/tls/cert.pem" \
	--user "$ADDR" --password "$PW" --pids "$YZPID" --rare zeugma --common project \
	--idle "$IDLE" --json "$RES/yizhan.json" 2>&1 | tee "$RES/yizhan.txt" >&2
kill "$YZPID"; wait "$YZPID" 2>/dev/null || true; YZPID=

# --- dovecot ---------------------------------------------------------------------------------
DV="$WORK/dovecot"
mkdir -p "$DV/run" "$DV/home/Maildir"
cp -a "$WORK/mail/." "$DV/home/Maildir/"
[ -d "$DV/home/Maildir/cur" ] || mkdir -p "$DV/home/Maildir/cur" "$DV/home/Maildir/new" "$DV/home/Maildir/tmp"
MAILUID=$(id -u mail); MAILGID=$(id -g mail)
chown -R "$MAILUID:$MAILGID" "$DV/home"
echo "$ADDR:{PLAIN}$PW:$MAILUID:$MAILGID::$DV/home" >"$DV/passwd"
cat >"$DV/dovecot.conf" <<CONF
base_dir = $DV/run
state_dir = $DV/run
log_path = $DV/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$DATA/tls/cert.pem
ssl_key = <$DATA/tls/key.pem
mail_location = maildir:~/Maildir
first_valid_uid = 1
first_valid_gid = 1
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = $DV/passwd
}
userdb {
  driver = passwd-file
  args = $DV/passwd
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 11993
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 20000
}
service imap {
  process_limit = 20000
}
protocol imap {
  # the default of 10 per user and address would close all but ten idle connections
  mail_max_userip_connections = 20000
}
default_process_limit = 20000
default_client_limit = 15000
default_vsz_limit = 0
CONF
/usr/sbin/dovecot -F -c "$DV/dovecot.conf" >"$RES/dovecot.out" 2>&1 &
DVPID=$!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', 11993), 1)" 2>/dev/null && break
	sleep 0.2
done
DVIDLE=$(echo "$IDLE" | cut -d, -f1)
log "measuring dovecot (master pid $DVPID; idle only at $DVIDLE: a process per connection)"
python3 "$ROOT/bench/imap/imapbench.py" --port 11993 --cafile "$DATA/tls/cert.pem" \
	--user "$ADDR" --password "$PW" --pids "pgrep:$DV/dovecot.conf" --rare zeugma --common project \
	--idle "$DVIDLE" --json "$RES/dovecot.json" 2>&1 | tee "$RES/dovecot.txt" >&2

python3 - "$RES" <<'PY' | tee "$RES/summary.txt"
import json, sys
r = sys.argv[1]
y = json.load(open(r + "/yizhan.json")); d = json.load(open(r + "/dovecot.json"))
def f(k, v):
    return "-" if v is None else ("%.1f" % v if isinstance(v, float) else str(v))
print("| measure | Yizhan | Dovecot | ratio (Yizhan/Dovecot) |")
print("|---|---|---|---|")
for k in ("fetch_ms", "flags_ms", "search_rare_p50_ms", "search_rare_hits", "search_common_p50_ms",
          "search_common_hits", "sessions_s", "idle_kib_1000", "idle_pss_kib_1000",
          "idle_kib_10000", "idle_pss_kib_10000"):
    a, b = y.get(k), d.get(k)
    ratio = "%.2f" % (a / b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "-"
    print("| %s | %s | %s | %s |" % (k, f(k, a), f(k, b), ratio))
PY
log "results in $RES"
