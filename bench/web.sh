#!/usr/bin/env bash
# bench/web.sh: the webmail's bundle size, sign-in time and a 100,000-message folder in a real
# browser, with Roundcube's bundle (Debian 12) beside it, in one run.
# A benchmark, not a test: never registered with meson test. See docs/BENCHMARKS.md.
#
# Usage: bench/web.sh [--count N] [--inbox N] [--runs N] [--opens N] [--build DIR] [--dir DIR]
#                     [--index] [--no-peer] [--keep] [--chromium PATH]
#   --count N      messages in the big folder (default 100000; e.g. 5000 for a quick try)
#   --inbox N      messages in INBOX, where sign-in lands (default 1000)
#   --runs N       timed sign-ins, each in a fresh browser context (default 10; one untimed
#                  warm-up comes first)
#   --opens N      timed opens of the big folder (default 5), alternating with the inbox
#   --build DIR    Yizhan build directory (default build-bench: meson setup
#                  --buildtype=release -Dtests=false when it does not exist yet). It may be
#                  the build dir of another checkout: the bundle and templates served are
#                  always this checkout's static/dist and templates (set in yizhan.conf)
#   --dir DIR      make the temporary directory under DIR (default ${TMPDIR:-/tmp}); as root,
#                  DIR must be reachable by yizhan's service user
#   --index        index the mail at import (adds about 6 ms a message) instead of emptying
#                  the index queue (see below)
#   --no-peer      leave Roundcube's bundle out
#   --keep         keep the temporary directory
#   --chromium P   the browser (default /usr/bin/chromium, Debian's)
#
# Steps:
#   1. scripts/build-web.sh, then the mail app's JS + CSS from static/dist (app.js, app.css;
#      login.js, the sign-in page, apart) raw, gzip -9 and brotli (-q 11: the brotli tool when
#      installed, else node's zlib, the same library).
#   2. The peer: `apt-get download` of roundcube-core, libjs-jquery and libjs-bootstrap4
#      (Debian 12), unpacked with dpkg-deb -x into the temporary directory (nothing is
#      installed, nothing runs), and the same sizes for what Roundcube's mail view loads with
#      the default Elastic skin and no plugins (list in ROUNDCUBE_* below).
#   3. bench/gen_corpus.py writes two Maildirs (seeds 1 and 7); yizhan init + user add +
#      import: the small one into INBOX, the big one into the folder bench-N. The benchmark
#      never searches, so by default the import skips indexing (--no-index) and the index
#      queue is emptied afterwards: otherwise the daemon's indexer would spend the whole
#      benchmark indexing (about 10 min at 100,000) on the same 2 CPUs.
#   4. yizhan serve on a free port base (127.0.0.1 only; [auth] login_ip_per_minute raised
#      so the sign-in runs are not throttled). curl times the first page of each folder and
#      a jump with ?at= on one kept-alive connection (the server's own time, for comparing
#      with the browser's).
#   5. bench/web/webbench.mjs (playwright-core from node_modules, Debian's chromium,
#      headless): sign-in to an interactive inbox over --runs fresh contexts; then the big
#      folder: open (--opens times), scroll to the end, requests and items fetched, rows in
#      the DOM, and an extra jump to the middle. How each figure is taken: the header of
#      webbench.mjs.
# Results: bench/results/DATE-web/ (report.md, web.json, sizes.tsv, curl.tsv, logs).
# Needs node + node_modules (scripts/setup.sh), chromium, python3, meson, ninja, curl, gzip;
# for the peer apt-get and dpkg-deb (and network access to Debian's mirror). Installs
# nothing; every step has a time bound; the daemon is stopped and the temporary directory
# removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-bench"
COUNT=100000
INBOX=1000
RUNS=10
OPENS=5
PARENT=${TMPDIR:-/tmp}
INDEX=0
PEER=1
KEEP=0
CHROMIUM=/usr/bin/chromium
ARGS="$*"
while [ $# -gt 0 ]; do
	case "$1" in
	--count) COUNT=$2; shift ;;
	--inbox) INBOX=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--opens) OPENS=$2; shift ;;
	--build) BUILD=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift ;;
	--dir) PARENT=$2; shift ;;
	--index) INDEX=1 ;;
	--no-peer) PEER=0 ;;
	--keep) KEEP=1 ;;
	--chromium) CHROMIUM=$2; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
	*) echo "web.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
for n in "$COUNT" "$INBOX" "$RUNS" "$OPENS"; do
	case "$n" in '' | *[!0-9]*) echo "web.sh: --count, --inbox, --runs and --opens need numbers" >&2; exit 2 ;; esac
done
[ "$COUNT" -ge 100 ] && [ "$INBOX" -ge 20 ] && [ "$RUNS" -ge 1 ] && [ "$OPENS" -ge 1 ] ||
	{ echo "web.sh: --count >= 100, --inbox >= 20, --runs and --opens >= 1" >&2; exit 2; }
for tool in node python3 ninja meson curl gzip timeout; do
	command -v "$tool" >/dev/null || { echo "web.sh: $tool not found" >&2; exit 2; }
done
[ -x "$CHROMIUM" ] || { echo "web.sh: no browser at $CHROMIUM" >&2; exit 2; }
[ -d "$ROOT/node_modules/playwright-core" ] || { echo "web.sh: node_modules/playwright-core missing: run scripts/setup.sh" >&2; exit 2; }
PEER_NOTE=""
if [ "$PEER" = 1 ] && ! { command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; }; then
	PEER=0
	PEER_NOTE="apt-get or dpkg-deb not found: Roundcube's bundle was not measured"
fi
[ "$PEER" = 0 ] && [ -z "$PEER_NOTE" ] && PEER_NOTE="Roundcube's bundle left out (--no-peer)"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES="$ROOT/bench/results/$STAMP-web"
mkdir -p "$RES" "$PARENT"
WORK=$(mktemp -d "$PARENT/yz-web.XXXXXX")
chmod 0711 "$WORK" # yizhan drops root to its service user, which must reach data/
YZPID=""
NODEPID=""
stop_pid() { # SIGTERM, up to 10 s, then SIGKILL: only the processes this script started
	local p=$1
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}
cleanup() {
	stop_pid "$NODEPID"
	stop_pid "$YZPID"
	if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
T_START=$(now)
PHASES=""
phase() { PHASES="$PHASES${PHASES:+, }$1 $(elapsed "$2" "$(now)") s"; }

# --- 1. the bundle ----------------------------------------------------------------------------
SIZES="$RES/sizes.tsv"
printf 'who\tgroup\tfile\traw\tgzip9\tbrotli11\n' >"$SIZES"
if command -v brotli >/dev/null; then
	BROTLI_HOW="brotli -q 11 (the brotli tool)"
	br_size() { brotli -q 11 -c "$1" | wc -c; }
else
	BROTLI_HOW="brotli quality 11 through node's zlib (the brotli tool is not installed)"
	br_size() {
		node -e 'const z = require("zlib"), fs = require("fs"); const b = fs.readFileSync(process.argv[1]);
			process.stdout.write(String(z.brotliCompressSync(b, { params: { [z.constants.BROTLI_PARAM_QUALITY]: 11,
			[z.constants.BROTLI_PARAM_SIZE_HINT]: b.length } }).length))' "$1"
	}
fi
size_row() { # who group label path
	local f
	f=$(readlink -f "$4")
	[ -f "$f" ] || { log "missing: $4"; return 0; }
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(stat -c %s "$f")" "$(gzip -9 -c "$f" | wc -c)" \
		"$(br_size "$f")" >>"$SIZES"
}
log "scripts/build-web.sh"
t0=$(now)
timeout 600 bash "$ROOT/scripts/build-web.sh" 2>"$RES/build-web.log" || { cat "$RES/build-web.log" >&2; exit 1; }
DIST="$ROOT/static/dist"
size_row yizhan js app.js "$DIST/app.js"
size_row yizhan css app.css "$DIST/app.css"
size_row yizhan-login js login.js "$DIST/login.js"
phase "bundle" "$t0"

# --- 2. the peer: Roundcube's files, downloaded and unpacked, never installed ------------------
# What the mail view (task=mail, the message list) loads with Debian's defaults (skin elastic,
# no plugins, not devel_mode, so the .min files): rcmail_output_html adds jquery, common, app;
# actions/mail/index.php list.js; the folder list treelist.js; the skin's layout.html and
# footer.html bootstrap's CSS and JS bundle, styles.css and ui.js (served as .min when it
# exists). Fonts load on demand through @font-face: counted apart, not in the total.
ROUNDCUBE_JS="program/js/jquery.min.js program/js/common.min.js program/js/app.min.js program/js/list.min.js
program/js/treelist.min.js skins/elastic/deps/bootstrap.bundle.min.js skins/elastic/ui.min.js"
ROUNDCUBE_CSS="skins/elastic/deps/bootstrap.min.css skins/elastic/styles/styles.min.css"
ROUNDCUBE_FONTS="skins/elastic/fonts/roboto-v29-regular.woff2 skins/elastic/fonts/roboto-v29-regular-700.woff2
skins/elastic/fonts/fa-solid-900.woff2 skins/elastic/fonts/fa-regular-400.woff2"
RC_VERSION=""
if [ "$PEER" = 1 ]; then
	t0=$(now)
	RC="$WORK/roundcube"
	mkdir -p "$RC/debs" "$RC/root"
	PKGS="roundcube-core libjs-jquery libjs-bootstrap4"
	log "apt-get download $PKGS (unpacked with dpkg-deb -x; nothing is installed)"
	if ! (cd "$RC/debs" && timeout 300 apt-get download $PKGS) >"$RES/apt-download.log" 2>&1; then
		if [ "$(id -u)" = 0 ]; then
			log "apt-get download failed; apt-get update and one more try"
			timeout 300 apt-get update -qq >>"$RES/apt-download.log" 2>&1 || true
			(cd "$RC/debs" && timeout 300 apt-get download $PKGS) >>"$RES/apt-download.log" 2>&1 || true
		fi
	fi
	if ls "$RC"/debs/roundcube-core_*.deb >/dev/null 2>&1; then
		for d in "$RC"/debs/*.deb; do
			dpkg-deb -x "$d" "$RC/root"
			printf '%s %s\n' "$(dpkg-deb -f "$d" Package)" "$(dpkg-deb -f "$d" Version)" >>"$RES/roundcube-packages.txt"
		done
		RC_VERSION=$(dpkg-deb -f "$RC"/debs/roundcube-core_*.deb Version)
		RCR="$RC/root/usr/share/roundcube"
		for f in $ROUNDCUBE_JS; do size_row roundcube js "$f" "$RCR/$f"; done
		for f in $ROUNDCUBE_CSS; do size_row roundcube css "$f" "$RCR/$f"; done
		for f in $ROUNDCUBE_FONTS; do size_row roundcube-fonts font "$f" "$RCR/$f"; done
		# where each file comes from (symlinks into libjs-*)
		for f in $ROUNDCUBE_JS $ROUNDCUBE_CSS; do
			printf '%s -> %s\n' "$f" "$(readlink -f "$RCR/$f" | sed "s|^$RC/root||")"
		done >"$RES/roundcube-files.txt"
	else
		PEER_NOTE="apt-get download failed (see apt-download.log): Roundcube's bundle was not measured"
		log "$PEER_NOTE"
	fi
	phase "peer" "$t0"
fi

# --- 3. build, corpus, import ---------------------------------------------------------------
if [ ! -f "$BUILD/build.ninja" ]; then
	log "meson setup $BUILD --buildtype=release -Dtests=false"
	meson setup "$BUILD" "$ROOT" --buildtype=release -Dtests=false >/dev/null
fi
if ! NINJA_OUT=$(timeout 900 ninja -C "$BUILD" server/yizhan 2>&1); then
	printf '%s\n' "$NINJA_OUT" | tail -n 30 >&2
	echo "web.sh: the build failed (ninja -C $BUILD)" >&2
	exit 1
fi
YZ="$BUILD/server/yizhan"

FOLDER="bench-$COUNT"
log "generating $COUNT + $INBOX messages"
t0=$(now)
timeout $((120 + COUNT / 200)) python3 "$ROOT/bench/gen_corpus.py" --out "$WORK/big" --count "$COUNT" \
	--manifest "$RES/corpus-big.json" >"$RES/gen.out"
timeout $((120 + INBOX / 200)) python3 "$ROOT/bench/gen_corpus.py" --out "$WORK/inbox" --count "$INBOX" \
	--seed 7 >>"$RES/gen.out"
sync
phase "corpus" "$t0"

DATA="$WORK/data"
ADDR="bench@bench.test"
PASS="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PORT_BASE=$(python3 - <<'PY'
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
)
PORT=$((PORT_BASE + 443))
"$YZ" init --data "$DATA" --domain bench.test --port-base "$PORT_BASE" >/dev/null
printf '%s\n' "$PASS" | "$YZ" user add --data "$DATA" "$ADDR" --password-stdin >/dev/null
cat >>"$DATA/yizhan.conf" <<CONF

# bench/web.sh: serve this checkout's bundle; do not throttle the benchmark's sign-ins
[server]
static_dir = $ROOT/static/dist
templates_dir = $ROOT/templates

[auth]
login_ip_per_minute = 100000
CONF
NOIDX=(--no-index)
[ "$INDEX" = 1 ] && NOIDX=()
log "yizhan import: $INBOX into INBOX, $COUNT into $FOLDER${NOIDX:+ (--no-index)}"
t0=$(now)
timeout $((300 + INBOX / 20)) "$YZ" import --data "$DATA" "$ADDR" "$WORK/inbox" "${NOIDX[@]}" >"$RES/import.out" 2>&1
timeout $((300 + COUNT / 20 + INDEX * COUNT / 50)) "$YZ" import --data "$DATA" "$ADDR" "$WORK/big" \
	--folder "$FOLDER" "${NOIDX[@]}" >>"$RES/import.out" 2>&1
phase "import" "$t0"
grep -E '^(imported|indexed|skipped)' "$RES/import.out" | sed 's/^/    /' >&2 || true
QUEUE_DROPPED=0
if [ "$INDEX" = 0 ]; then
	QUEUE_DROPPED=$(python3 - "$DATA" <<'PY'
import glob, sqlite3, sys
n = 0
for p in glob.glob(sys.argv[1] + "/accounts/*/*/mail.db"):
    db = sqlite3.connect(p)
    n += db.execute("SELECT count(*) FROM index_queue").fetchone()[0]
    db.execute("DELETE FROM index_queue")
    db.commit()
    db.close()
print(n)
PY
)
	log "emptied the index queue ($QUEUE_DROPPED entries): the benchmark never searches"
fi
rm -rf "$WORK/big" "$WORK/inbox" # 1.2 GB at 100,000: the blobs hold the mail now

# --- 4. serve, and the server's own time ------------------------------------------------------
"$YZ" serve --data "$DATA" >"$RES/yizhan.log" 2>&1 &
YZPID=$!
CERT="$DATA/tls/cert.pem"
for _ in $(seq 150); do
	curl -s -o /dev/null --cacert "$CERT" --resolve "localhost:$PORT:127.0.0.1" "https://localhost:$PORT/healthz" && break
	kill -0 "$YZPID" 2>/dev/null || { tail -n 20 "$RES/yizhan.log" >&2; echo "web.sh: yizhan serve exited" >&2; exit 1; }
	sleep 0.1
done
URL="https://localhost:$PORT"
COOKIE=$(printf '%s\n' "$PASS" | timeout 60 python3 "$ROOT/bench/signin.py" --port "$PORT" --address "$ADDR" --cafile "$CERT")
CURL=(curl -s --max-time 30 --cacert "$CERT" --resolve "localhost:$PORT:127.0.0.1" -H "Cookie: $COOKIE")
IDS=$("${CURL[@]}" "$URL/api/v1/folders" | python3 -c '
import json, sys
f = json.load(sys.stdin)["items"]
print([x["id"] for x in f if x.get("role") == "inbox"][0], [x["id"] for x in f if x["name"] == sys.argv[1]][0])' "$FOLDER")
INBOX_ID=${IDS% *}
BIG_ID=${IDS#* }
# each series on one kept-alive connection: the first transfer (TLS handshake) is dropped
CURLN=21
curl_series() { # name url
	local a=() i
	for i in $(seq "$CURLN"); do a+=(-o /dev/null "$2"); done
	"${CURL[@]}" -w "$1\t%{http_code}\t%{time_pretransfer}\t%{time_starttransfer}\t%{time_total}\t%{size_download}\n" "${a[@]}" |
		tail -n +2 >>"$RES/curl.tsv"
}
printf 'name\tstatus\tpretransfer_s\tstarttransfer_s\ttotal_s\tbytes\n' >"$RES/curl.tsv"
Q="limit=100&sort=date"
curl_series big-first "$URL/api/v1/messages?folder=$BIG_ID&$Q&order=desc"
curl_series big-last "$URL/api/v1/messages?folder=$BIG_ID&$Q&order=asc"
curl_series big-at-middle "$URL/api/v1/messages?folder=$BIG_ID&$Q&order=desc&at=$((COUNT / 2))"
curl_series big-500 "$URL/api/v1/messages?folder=$BIG_ID&limit=500&sort=date&order=desc"
curl_series inbox-first "$URL/api/v1/messages?folder=$INBOX_ID&$Q&order=desc"

# --- 5. the browser ---------------------------------------------------------------------------
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_BEFORE=$(cpu_s "$YZPID")
log "browser: $RUNS sign-ins, then $FOLDER"
t0=$(now)
set +e
YZ_PASS="$PASS" timeout -k 10 900 node "$ROOT/bench/web/webbench.mjs" --base "$URL" --user "$ADDR" \
	--folder "$FOLDER" --out "$RES/web.json" --runs "$RUNS" --opens "$OPENS" --chromium "$CHROMIUM" \
	--timeout 840 2>"$RES/webbench.log" &
NODEPID=$!
wait "$NODEPID"
NODE_RC=$?
NODEPID=""
set -e
phase "browser" "$t0"
CPU_AFTER=$(cpu_s "$YZPID")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
sed 's/^/    /' "$RES/webbench.log" >&2
[ "$NODE_RC" = 0 ] || { echo "web.sh: webbench.mjs failed (exit $NODE_RC)" >&2; exit 1; }
stop_pid "$YZPID"
YZPID=""
RUN_MIN=$(awk -v a="$T_START" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 60 }')

# --- report -----------------------------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- static templates 2>/dev/null || REV="$REV + uncommitted changes in static/ or templates/"
BSRC=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["directories"]["source"])' \
	"$BUILD/meson-info/meson-info.json" 2>/dev/null || echo '?')
BREV=$(git -C "$BSRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$BSRC" diff --quiet HEAD -- lib store search api web server 2>/dev/null || BREV="$BREV + uncommitted changes"
BTYPE=$(python3 -c 'import json,sys; o={x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}; print(o["buildtype"], "b_sanitize=" + str(o["b_sanitize"]))' \
	"$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null || echo unknown)
PWV=$(node -p 'require(process.argv[1] + "/node_modules/playwright-core/package.json").version' "$ROOT" 2>/dev/null || echo '?')
ESBV=$("$ROOT/node_modules/.bin/esbuild" --version 2>/dev/null || echo '?')
{
	echo "cpu=$CPU"
	echo "cpus=$(nproc)"
	echo "mem_gb=$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
	echo "load_before=$LOAD_BEFORE"
	echo "load_after=$LOAD_AFTER"
	echo "rev=$REV"
	echo "build_dir=$BUILD"
	echo "build_src=$BSRC"
	echo "build_rev=$BREV"
	echo "build=$BTYPE"
	echo "node=$(node --version)"
	echo "playwright=$PWV"
	echo "esbuild=$ESBV"
	echo "brotli_how=$BROTLI_HOW"
	echo "roundcube=$RC_VERSION"
	echo "peer_note=$PEER_NOTE"
	echo "count=$COUNT"
	echo "inbox=$INBOX"
	echo "folder=$FOLDER"
	echo "index=$INDEX"
	echo "queue_dropped=$QUEUE_DROPPED"
	echo "server_cpu_s=$(awk -v a="$CPU_BEFORE" -v b="$CPU_AFTER" 'BEGIN { printf "%.1f", b - a }')"
	echo "args=$ARGS"
	echo "run_min=$RUN_MIN"
	echo "phases=$PHASES"
} >"$RES/run.txt"

python3 - "$RES" >"$RES/report.md" <<'PY'
import csv, json, os, statistics, sys
res = sys.argv[1]
run = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(res, "run.txt"), encoding="utf-8") if "=" in l)
sizes = list(csv.DictReader(open(os.path.join(res, "sizes.tsv"), encoding="utf-8"), delimiter="\t"))
w = json.load(open(os.path.join(res, "web.json"), encoding="utf-8"))
curl = list(csv.DictReader(open(os.path.join(res, "curl.tsv"), encoding="utf-8"), delimiter="\t"))
out = []
P = out.append
def kb(n): return "%.1f" % (int(n) / 1000)
def ms(x): return "%.0f" % x
def goal(ok): return "met" if ok else "**missed**"
def pct(v, p):
    v = sorted(v); k = max(1, -(-len(v) * p // 100)); return v[int(k) - 1]
def tot(rows, k): return sum(int(r[k]) for r in rows)

# 1. bundle
P("**Bundle** (static/dist after scripts/build-web.sh; kB = 1,000 bytes; brotli: %s):" % run["brotli_how"])
P("")
P("| file | raw kB | gzip -9 kB | brotli kB |")
P("|---|---:|---:|---:|")
yz = [r for r in sizes if r["who"] == "yizhan"]
for r in yz:
    P("| Yizhan `%s` | %s | %s | %s |" % (r["file"], kb(r["raw"]), kb(r["gzip9"]), kb(r["brotli11"])))
P("| **Yizhan mail view, JS + CSS** | **%s** | **%s** | **%s** |" % (kb(tot(yz, "raw")), kb(tot(yz, "gzip9")), kb(tot(yz, "brotli11"))))
for r in sizes:
    if r["who"] == "yizhan-login":
        P("| Yizhan `login.js` (the sign-in page, with `app.css`; not in the total) | %s | %s | %s |" % (kb(r["raw"]), kb(r["gzip9"]), kb(r["brotli11"])))
rc = [r for r in sizes if r["who"] == "roundcube"]
if rc:
    for r in rc:
        P("| Roundcube `%s` | %s | %s | %s |" % (r["file"], kb(r["raw"]), kb(r["gzip9"]), kb(r["brotli11"])))
    P("| **Roundcube %s mail view, JS + CSS** | **%s** | **%s** | **%s** |" % (run["roundcube"], kb(tot(rc, "raw")), kb(tot(rc, "gzip9")), kb(tot(rc, "brotli11"))))
    fonts = [r for r in sizes if r["who"] == "roundcube-fonts"]
    if fonts:
        P("| Roundcube web fonts (woff2, already compressed; loaded on demand: %s; not in the total) | %s | %s | %s |" % (
            ", ".join(os.path.basename(r["file"]) for r in fonts), kb(tot(fonts, "raw")), kb(tot(fonts, "gzip9")), kb(tot(fonts, "brotli11"))))
P("")
yg = tot(yz, "gzip9")
line = "- JS + CSS ≤ 250 KB gzip: **%s kB** (%d bytes) (%s)" % (kb(yg), yg, goal(yg <= 250000))
if rc:
    line += "; Roundcube's %s kB, so Yizhan's is **%.2f×** Roundcube's" % (kb(tot(rc, "gzip9")), yg / tot(rc, "gzip9"))
P(line + ".")
if run.get("peer_note"):
    P("- " + run["peer_note"] + ".")
P("")

# 2. sign-in
s = w["signin"]
P("**Sign-in to an interactive inbox** (%d fresh browser contexts after one warm-up; INBOX of %s messages; "
  "ms from the click on the submit button):" % (len(s), run["inbox"]))
P("")
P("| step | p50 ms | p95 ms | max ms |")
P("|---|---:|---:|---:|")
for k, what in (("scram_ms", "SCRAM exchange done, navigation to / starts"),
                ("dcl_ms", "DOMContentLoaded of / (app.js fetched, parsed, run)"),
                ("rows_ms", "first list rows with messages in the DOM"),
                ("open_ms", "**interactive**: a click on a row has opened it in the reader"),
                ("painted_ms", "... and two frames later (painted)")):
    st = w["signin_" + k]
    P("| %s | %s | %s | %s |" % (what, ms(st["p50"]), ms(st["p95"]), ms(st["max"])))
st = w["signin_open_ms"]
P("")
k = max(1, -(-len(s) * 95 // 100))
P("- interactive ≤ 1 s: p50 **%s ms**, p95 **%s ms** (%s). The p95 is by nearest rank: with %d runs, the %s. "
  "Warm-up run (not counted): %s ms." % (ms(st["p50"]), ms(st["p95"]), goal(st["p95"] <= 1000), len(s),
  "slowest run" if k == len(s) else "%d. fastest" % k, ms(w["warmup"]["open_ms"])))
P("- Requests in one run, from the click until the figures were read: %d (%s)." % (
    s[0]["requests"], ", ".join(sorted(set(s[0]["request_paths"])))))
P("")

# 3. the big folder
b = w["big"]
c = {}
for r in curl:
    c.setdefault(r["name"], []).append(r)
def srv(name):
    v = [(float(r["starttransfer_s"]) - float(r["pretransfer_s"])) * 1000 for r in c.get(name, [])]
    sz = int(c[name][0]["bytes"]) if c.get(name) else 0
    return (statistics.median(v), pct(v, 95), sz) if v else (0, 0, 0)
P("**The %s-message folder** (%s; ms from the click on the folder):" % (f"{b['total']:,}", run["folder"]))
P("")
P("| measure | figure |")
P("|---|---|")
op = b["open_painted"]; od = b["open_dom"]
P("| open: first rows painted, %d opens | first %s, p50 **%s**, max **%s** ms |" % (op["n"], ms(b["opens"][0]["painted_ms"]), ms(op["p50"]), ms(op["max"])))
P("| open: first rows in the DOM | p50 %s, max %s ms |" % (ms(od["p50"]), ms(od["max"])))
if b.get("inbox_open_painted"):
    ip = b["inbox_open_painted"]
    P("| for comparison, the %s-message inbox, painted | p50 %s, max %s ms |" % (run["inbox"], ms(ip["p50"]), ms(ip["max"])))
P("| requests / items per open | %g / %g (`limit=100`, first page with the total) |" % (b["open_requests_per_open"], b["open_items_per_open"]))
sc = b["scroll"]
P("| scroll to the end: last row (position %s) holds a message | **%s ms** (painted %s ms), %d frames of scrollTop = scrollHeight |" % (
    f"{sc['target_index']:,}", ms(sc["dom_ms"]), ms(sc["painted_ms"]), sc["iterations"]))
P("| ... it is the folder's oldest message (checked against the API) | %s |" % ("yes" if b["last_row_is_oldest"] else "**no**"))
P("| requests / items the scroll fetched | %d / %d |" % (b["scroll_requests"], b["scroll_items"]))
P("| `/api/v1/messages` requests / items from the first open to the end | %d / %s of %s (%.2f %%) |" % (
    b["requests_until_end"], f"{b['items_until_end']:,}", f"{b['total']:,}", 100.0 * b["items_until_end"] / b["total"]))
P("| DOM at the end: list rows / all elements | %d / %d (virtualised) |" % (sc["rows_in_dom"], sc["elements"]))
ma, mb_ = b["metrics_after_scroll"], b["metrics_before_scroll"]
P("| JS heap used before / after the scroll | %.1f / %.1f MB |" % (mb_["js_heap_used_bytes"] / 1e6, ma["js_heap_used_bytes"] / 1e6))
m = b.get("middle")
if m and not m.get("error"):
    P("| extra (no goal): fresh open, jump to the middle (position %s) | %s ms, %d requests, %s items, heap %.1f MB |" % (
        f"{m['target_index']:,}", f"{m['dom_ms']:,.0f}", b["middle_requests"], f"{b['middle_items']:,}", m["metrics"]["js_heap_used_bytes"] / 1e6))
elif m:
    P("| extra (no goal): jump to the middle | %s after %d frames; %d requests, %s items |" % (m["error"], m["iterations"], b["middle_requests"], f"{b['middle_items']:,}"))
P("")
P("Server's own time (curl, %d requests per row on one kept-alive connection, TLS handshake excluded: "
  "time to first byte after the request was sent) against what the browser saw:" % len(c.get("big-first", [])))
P("")
P("| request | p50 ms | p95 ms | bytes |")
P("|---|---:|---:|---:|")
for name, what in (("big-first", "big folder, first page (`limit=100&sort=date&order=desc`)"),
                   ("big-last", "big folder, last page (`order=asc`, as the scroll to the end asks)"),
                   ("big-at-middle", "big folder, `&at=%s` (the API's jump, which the list uses far from its loaded rows)" % f"{b['total'] // 2:,}"),
                   ("big-500", "big folder, `limit=500` (the page size of a walk)"),
                   ("inbox-first", "inbox, first page")):
    a, p95, sz = srv(name)
    P("| %s | %.1f | %.1f | %s |" % (what, a, p95, f"{sz:,}"))
t = b["first_page_ttfb_ms"]
P("| browser: the first page's request sent → first byte (playwright timing) | %.1f | %.1f | |" % (t["p50"], t["max"]))
P("")
P("- open ≤ 300 ms: max **%s ms** over %d opens (p50 %s ms) (%s)." % (ms(op["max"]), op["n"], ms(op["p50"]), goal(op["max"] <= 300)))
P("- never loads all rows: %s of %s items fetched from the first open to the end (%s); %d list rows in the DOM." % (
    f"{b['items_until_end']:,}", f"{b['total']:,}", "none loaded all" if b["items_until_end"] < b["total"] else "**all were loaded**", sc["rows_in_dom"]))
P("- The timing figures have no peer: Roundcube is not run here (it needs Apache, PHP and a database); only its bundle is compared.")
P("")
P("Server CPU during the browser phase: %s s. Run time: %s min (%s)." % (run["server_cpu_s"], run["run_min"], run["phases"]))
sys.stdout.write("\n".join(out) + "\n")
PY

{
	echo "Recorded $(date -u '+%Y-%m-%d %H:%M UTC') with \`bash bench/web.sh${ARGS:+ $ARGS}\`."
	echo
	echo "- Machine: $(nproc) CPUs, $CPU, $(awk -F= '/^mem_gb/ {print $2}' "$RES/run.txt") GB; the browser," \
		"the server and anything else running share these CPUs; load average before/after the browser" \
		"phase: $LOAD_BEFORE / $LOAD_AFTER."
	echo "- Bundle from $REV (esbuild $ESBV); yizhan built from $BSRC at $BREV, \`$BTYPE\`;" \
		"chromium $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chromium"])' "$RES/web.json")" \
		"headless (Debian), playwright-core $PWV, node $(node --version); viewport 1366×860, locale zh-CN."
	echo
	cat "$RES/report.md"
} >"$RES/record.md"

echo
cat "$RES/record.md"
echo
echo "raw output: bench/results/$STAMP-web/"
