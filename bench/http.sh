#!/usr/bin/env bash
# bench/http.sh: HTTP throughput and latency of Yizhan against two baselines, in one run.
# A benchmark, not a test: never registered with meson test. See docs/BENCHMARKS.md.
#
# Usage: bench/http.sh [--record] [--duration SECONDS]
#   --record          rewrite the results section of docs/BENCHMARKS.md with this run
#   --duration N      seconds per wrk run (default 10)
#
# Targets, all HTTPS on 127.0.0.1 with the certificate `yizhan init` made:
#   hello      build/bench/bench-hello: minimal libmicrohttpd server, same TLS setup
#   nginx      nginx (2 workers) serving a small static JSON file
#   healthz    yizhan GET /healthz            (public route: router + JSON, no session)
#   me         yizhan GET /api/v1/me          (session cookie: two SQLite reads per request)
# Each is measured with wrk --latency at 1 connection (-t1: wrk needs threads <= connections)
# and at 50 connections (-t2). Raw wrk output goes to bench/results/DATE/ (not committed).
# Needs wrk, nginx, python3 (stdlib only) and a built tree (ninja -C build runs first).
# Installs nothing; every server is bound to 127.0.0.1 and stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
DUR=10
RECORD=0
while [ $# -gt 0 ]; do
	case "$1" in
	--record) RECORD=1 ;;
	--duration) DUR=$2; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
	*) echo "http.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
for tool in wrk nginx python3 ninja; do
	command -v "$tool" >/dev/null || { echo "http.sh: $tool not found" >&2; exit 2; }
done

ninja -C "$BUILD" server/yizhan bench/bench-hello >/dev/null
YZ="$BUILD/server/yizhan"
HELLO="$BUILD/bench/bench-hello"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/yz-bench.XXXXXX")
chmod 0711 "$WORK" # yizhan drops root to its service user, which must reach data/
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port on 127.0.0.1 (nothing else binds it between here and the server start).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# A port base whose yizhan listeners (base + 443, 25, 587, 465, 143, 993, 110, 995) are free.
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
    if all(free(base + o) for o in (443, 25, 587, 465, 143, 993, 110, 995)):
        print(base); break
else:
    raise SystemExit("no free port base")
PY
}
# Wait until https://127.0.0.1:PORT/PATH answers 200 (at most 15 s).
wait_https() {
	python3 - "$1" "$2" <<'PY'
import http.client, ssl, sys, time
ctx = ssl._create_unverified_context()
end = time.time() + 15
while True:
    try:
        c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=2)
        c.request("GET", sys.argv[2]); r = c.getresponse(); r.read()
        if r.status == 200:
            break
    except OSError:
        pass
    if time.time() > end:
        raise SystemExit("no answer on port %s" % sys.argv[1])
    time.sleep(0.1)
PY
}

# --- yizhan -----------------------------------------------------------------------------------
DATA="$WORK/data"
BASE=$(free_port_base)
YZ_PORT=$((BASE + 443))
ADDR="bench@bench.test"
PASS="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$YZ" init --data "$DATA" --domain bench.test --port-base "$BASE" >/dev/null
printf '%s\n' "$PASS" | "$YZ" user add --data "$DATA" "$ADDR" --password-stdin >/dev/null
"$YZ" serve --data "$DATA" >"$WORK/yizhan.log" 2>&1 &
PIDS+=($!)
CERT="$DATA/tls/cert.pem"
KEY="$DATA/tls/key.pem"
wait_https "$YZ_PORT" /healthz
COOKIE=$(printf '%s\n' "$PASS" | python3 "$ROOT/bench/signin.py" --port "$YZ_PORT" \
	--address "$ADDR" --cafile "$CERT")

# --- hello ------------------------------------------------------------------------------------
HELLO_PORT=$(free_port)
"$HELLO" "$CERT" "$KEY" "$HELLO_PORT" 2>"$WORK/hello.log" &
PIDS+=($!)
wait_https "$HELLO_PORT" /

# --- nginx ------------------------------------------------------------------------------------
NGX="$WORK/nginx"
NGINX_PORT=$(free_port)
mkdir -p "$NGX/www" "$NGX/tmp"
printf '{"status":"ok"}' >"$NGX/www/status.json"
{
	[ "$(id -u)" = 0 ] && echo "user root;"
	cat <<NGINX
daemon off;
worker_processes 2;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    types { application/json json; }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        keepalive_requests 1000000;
        root $NGX/www;
        location / { try_files \$uri =404; }
    }
}
NGINX
} >"$NGX/nginx.conf"
nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" &
PIDS+=($!)
wait_https "$NGINX_PORT" /status.json

# --- runs -------------------------------------------------------------------------------------
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES="$ROOT/bench/results/$STAMP"
mkdir -p "$RES"
declare -A URL=(
	[hello]="https://127.0.0.1:$HELLO_PORT/"
	[nginx]="https://127.0.0.1:$NGINX_PORT/status.json"
	[healthz]="https://127.0.0.1:$YZ_PORT/healthz"
	[me]="https://127.0.0.1:$YZ_PORT/api/v1/me"
)
LABEL_hello="hello (libmicrohttpd)"
LABEL_nginx="nginx static file"
LABEL_healthz="yizhan GET /healthz"
LABEL_me="yizhan GET /api/v1/me"
TARGETS=(hello nginx healthz me)

# wrk's latency figures come as 123.45us / 1.23ms / 1.02s: print milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
		printf "%.2f", n }'
}

declare -A RPS P50 P99 BAD
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for c in 1 50; do
	t_threads=$((c < 2 ? 1 : 2))
	for t in "${TARGETS[@]}"; do
		hdr=()
		[ "$t" = me ] && hdr=(-H "Cookie: $COOKIE")
		out="$RES/$t-c$c.txt"
		# hard bound in case wrk wedges
		timeout $((DUR + 30)) wrk -t"$t_threads" -c"$c" -d"${DUR}s" --latency "${hdr[@]}" \
			"${URL[$t]}" >"$out" 2>&1
		RPS[$t,$c]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
		P50[$t,$c]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
		P99[$t,$c]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
		RPS[$t,$c]=${RPS[$t,$c]:-n/a}
		BAD[$t,$c]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
		BAD[$t,$c]=${BAD[$t,$c]:-0}
		if grep -q 'Socket errors' "$out"; then
			BAD[$t,$c]="${BAD[$t,$c]} ($(grep 'Socket errors' "$out" | sed 's/^ *//'))"
		fi
		printf '%-24s c=%-3s %8s req/s  p50 %6s ms  p99 %6s ms\n' "$(eval echo "\$LABEL_$t")" \
			"$c" "${RPS[$t,$c]}" "${P50[$t,$c]}" "${P99[$t,$c]}" >&2
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -----------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
R1=$(ratio "${RPS[me,1]}" "${RPS[hello,1]}")
R50=$(ratio "${RPS[me,50]}" "${RPS[hello,50]}")
GOAL_RATIO=$(awk -v r="$R50" 'BEGIN { print (r + 0 >= 0.6) ? "met" : "missed" }')
GOAL_P99=$(awk -v p="${P99[me,50]}" 'BEGIN { print (p + 0 <= 10) ? "met" : "missed" }')

table() {
	echo "| target | connections | req/s | p50 (ms) | p99 (ms) | non-2xx / errors |"
	echo "|---|---:|---:|---:|---:|---|"
	for c in 1 50; do
		for t in "${TARGETS[@]}"; do
			printf '| %s | %s | %s | %s | %s | %s |\n' "$(eval echo "\$LABEL_$t")" "$c" \
				"${RPS[$t,$c]}" "${P50[$t,$c]}" "${P99[$t,$c]}" "${BAD[$t,$c]}"
		done
	done
	echo
	echo "- /api/v1/me ÷ hello (req/s): **$R1** at 1 connection, **$R50** at 50 connections" \
		"(goal ≥ 0.6 at 50: $GOAL_RATIO)."
	echo "- /api/v1/me p99 at 50 connections: **${P99[me,50]} ms** (goal ≤ 10 ms: $GOAL_P99)."
}

CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- lib store api web server 2>/dev/null || REV="$REV + uncommitted changes"
BTYPE=$(python3 -c 'import json,sys; o={x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}; print(o["buildtype"], "b_sanitize=" + str(o["b_sanitize"]))' \
	"$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null || echo unknown)
MHDV=$(pkg-config --modversion libmicrohttpd 2>/dev/null || echo "?")
GNUTLSV=$(pkg-config --modversion gnutls 2>/dev/null || echo "?")
NGINXV=$(nginx -v 2>&1 | sed 's/.*nginx\///')
WRKV=$( (wrk -v 2>&1 || true) | awk 'NR == 1 {print $2}')

report() {
	echo "Recorded $(date -u '+%Y-%m-%d %H:%M UTC') with \`bash bench/http.sh --record\`" \
		"(wrk -d${DUR}s --latency; -t1 -c1 and -t2 -c50)."
	echo
	echo "- Machine: $(nproc) CPUs, $CPU; load average before/after: $LOAD_BEFORE / $LOAD_AFTER."
	echo "  wrk, the servers and anything else running share these CPUs."
	echo "- Yizhan $REV, build \`$BTYPE\`, \`[http] threads = 4\`."
	echo "- libmicrohttpd $MHDV, GnuTLS $GNUTLSV, nginx $NGINXV, wrk $WRKV."
	echo
	table
}

echo
table
cp "$WORK/yizhan.log" "$RES/yizhan.log" 2>/dev/null || true
report >"$RES/report.md"
echo
echo "raw wrk output: bench/results/$STAMP/"

if [ "$RECORD" = 1 ]; then
	DOC="$ROOT/docs/BENCHMARKS.md"
	python3 - "$DOC" "$RES/report.md" <<'PY'
import sys
doc, rep = sys.argv[1], open(sys.argv[2]).read()
begin, end = "<!-- results:begin -->", "<!-- results:end -->"
text = open(doc).read()
if begin not in text or end not in text:
    raise SystemExit("http.sh: %s has no %s ... %s markers" % (doc, begin, end))
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(doc, "w").write(head + begin + "\n" + rep.rstrip("\n") + "\n" + end + tail)
PY
	echo "recorded in docs/BENCHMARKS.md"
fi
