#!/usr/bin/env bash
# bench/store.sh: mail store import, index, list and search against notmuch, in one run.
# A benchmark, not a test: never registered with meson test. See docs/BENCHMARKS.md.
#
# Usage: bench/store.sh [--count N] [--record] [--keep] [--dir DIR] [--build DIR]
#                       [--repeats N] [--nm-repeats N] [--seconds S] [--perf] [--no-notmuch]
#                       [--no-floor]
#   --count N         messages in the generated corpus (default 100000)
#   --record          rewrite the results block of the mail store section of docs/BENCHMARKS.md
#   --keep            keep the temporary directory (corpus, data dir, notmuch database)
#   --dir DIR         make the temporary directory under DIR (default ${TMPDIR:-/tmp}); when
#                     run as root, DIR must be reachable by yizhan's service user
#   --build DIR       Yizhan build directory (default build-bench: meson setup
#                     --buildtype=release -Dtests=false when it does not exist yet)
#   --repeats N       calls per Yizhan search series (default 200; at most --seconds each)
#   --nm-repeats N    runs of each notmuch search (default 50)
#   --seconds S       time bound of each Yizhan series (default 5)
#   --perf            perf record (DWARF call graphs, 49 Hz) the import and bench-mail into
#                     the results directory (about 0.5 GB at 100k)
#   --no-notmuch      leave the notmuch half out
#   --no-floor        leave out the Xapian floor (BUILD/bench/bench-xapian-floor, below)
#
# Steps: bench/gen_corpus.py writes the corpus (deterministic seed) as a Maildir; yizhan
# init + user add + import (store, then index) with its own rates; BUILD/bench/bench-mail
# (bench/mailbench.c) measures list pages and searches in-process; BUILD/bench/bench-xapian-floor
# (bench/xapian_floor.cc) writes the documents of the index just built into new databases with
# Xapian alone (as many threads as the index has shards, each committing as often as a shard),
# the floor under yizhan's indexer on this machine; then notmuch, with its own
# config (NOTMUCH_CONFIG) and its database in the temporary directory, runs `notmuch new`
# on the same Maildir and `notmuch count` / `notmuch search` for the same queries.
# Raw output goes to bench/results/DATE-store/ (not committed). Needs python3 (stdlib only),
# ninja and meson; notmuch is optional (the half is skipped, and said so, when it is missing).
# Installs nothing; every step has a time bound; the temporary directory is removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-bench"
COUNT=100000
RECORD=0
KEEP=0
PARENT=${TMPDIR:-/tmp}
REPEATS=200
NM_REPEATS=50
SECONDS_PER=5
PERF=0
NOTMUCH=1
FLOOR=1
ARGS="$*"
while [ $# -gt 0 ]; do
	case "$1" in
	--count) COUNT=$2; shift ;;
	--record) RECORD=1 ;;
	--keep) KEEP=1 ;;
	--dir) PARENT=$2; shift ;;
	--build) BUILD=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift ;;
	--repeats) REPEATS=$2; shift ;;
	--nm-repeats) NM_REPEATS=$2; shift ;;
	--seconds) SECONDS_PER=$2; shift ;;
	--perf) PERF=1 ;;
	--no-notmuch) NOTMUCH=0 ;;
	--no-floor) FLOOR=0 ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
	*) echo "store.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
case "$COUNT" in '' | *[!0-9]*) echo "store.sh: --count needs a number" >&2; exit 2 ;; esac
for tool in python3 ninja meson timeout; do
	command -v "$tool" >/dev/null || { echo "store.sh: $tool not found" >&2; exit 2; }
done
NM_NOTE=""
if [ "$NOTMUCH" = 1 ] && ! command -v notmuch >/dev/null; then
	NOTMUCH=0
	NM_NOTE="notmuch not found: the notmuch half was skipped"
	echo "store.sh: $NM_NOTE" >&2
fi
[ "$NOTMUCH" = 0 ] && [ -z "$NM_NOTE" ] && NM_NOTE="notmuch half left out (--no-notmuch)"
[ "$PERF" = 1 ] && ! command -v perf >/dev/null && { echo "store.sh: perf not found" >&2; exit 2; }

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# --- build ------------------------------------------------------------------------------------
if [ ! -f "$BUILD/build.ninja" ]; then
	log "meson setup $BUILD --buildtype=release -Dtests=false"
	meson setup "$BUILD" "$ROOT" --buildtype=release -Dtests=false >/dev/null
fi
if ! NINJA_OUT=$(ninja -C "$BUILD" server/yizhan bench/bench-mail bench/bench-xapian-floor 2>&1); then
	printf '%s\n' "$NINJA_OUT" | tail -n 30 >&2
	echo "store.sh: the build failed (ninja -C $BUILD)" >&2
	exit 1
fi
YZ="$BUILD/server/yizhan"
MB="$BUILD/bench/bench-mail"
XF="$BUILD/bench/bench-xapian-floor"

mkdir -p "$PARENT"
WORK=$(mktemp -d "$PARENT/yz-store.XXXXXX")
chmod 0711 "$WORK" # yizhan drops root to its service user, which must reach data/ and mail/
cleanup() {
	if [ "$KEEP" = 1 ]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES="$ROOT/bench/results/$STAMP-store"
mkdir -p "$RES"
# time bounds: generous (a few times the slowest rate seen), so only a hang trips them
T_GEN=$((120 + COUNT / 200))
T_IMPORT=$((300 + COUNT / 20))
T_NMNEW=$((300 + COUNT / 25))
T_BENCH=$((600 + COUNT / 100))

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(now)
PHASES=""
phase() { PHASES="$PHASES${PHASES:+, }$1 $(elapsed "$2" "$(now)") s"; }

# --- corpus -----------------------------------------------------------------------------------
MAIL="$WORK/mail"
python3 "$ROOT/bench/gen_corpus.py" --queries >"$RES/queries.tsv"
log "generating $COUNT messages into $MAIL"
t0=$(now)
timeout "$T_GEN" python3 "$ROOT/bench/gen_corpus.py" --out "$MAIL" --count "$COUNT" \
	--manifest "$RES/corpus.json" >"$RES/gen.out"
sync # the generator's dirty pages are written out before anything is timed
phase "corpus" "$t0"
log "$(cat "$RES/gen.out") (with sync: $(elapsed "$t0" "$(now)") s)"

# --- yizhan -----------------------------------------------------------------------------------
DATA="$WORK/data"
ADDR="bench@bench.test"
PASS="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PORT_BASE=$(python3 -c 'import random; print(random.randrange(20000, 50001, 1000))')
"$YZ" init --data "$DATA" --domain bench.test --port-base "$PORT_BASE" >/dev/null
printf '%s\n' "$PASS" | "$YZ" user add --data "$DATA" "$ADDR" --password-stdin >/dev/null
ACCOUNT=$(python3 - "$DATA/directory.db" "$ADDR" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(db.execute("SELECT id FROM accounts WHERE address = ?", (sys.argv[2],)).fetchone()[0])
PY
)
PERF_IMPORT=()
[ "$PERF" = 1 ] && PERF_IMPORT=(perf record -F 49 --call-graph dwarf,16384 -o "$RES/import.perf" --)
log "yizhan import ($ADDR, account $ACCOUNT)"
t0=$(now)
set +e
timeout "$T_IMPORT" "${PERF_IMPORT[@]}" "$YZ" import --data "$DATA" "$ADDR" "$MAIL" \
	>"$RES/import.out" 2>"$RES/import.err"
IMPORT_RC=$?
set -e
IMPORT_WALL=$(elapsed "$t0" "$(now)")
phase "yizhan import" "$t0"
echo "wall_s=$IMPORT_WALL rc=$IMPORT_RC" >>"$RES/import.out"
grep -E '^(imported|indexed|skipped)' "$RES/import.out" | sed 's/^/    /' >&2 || true
STORED=$(awk '/^imported/ {print $2; exit}' "$RES/import.out")
STORED=${STORED:-0}

YZ_OK=0
if [ "$STORED" -gt 0 ]; then
	YZ_OK=1
	PERF_MB=()
	[ "$PERF" = 1 ] && PERF_MB=(perf record -F 49 --call-graph dwarf,16384 -o "$RES/mailbench.perf" --)
	log "bench-mail: list pages and searches"
	t0=$(now)
	set +e
	timeout "$T_BENCH" "${PERF_MB[@]}" "$MB" "$DATA" "$ACCOUNT" --queries "$RES/queries.tsv" \
		--repeats "$REPEATS" --seconds "$SECONDS_PER" >"$RES/mailbench.txt" 2>"$RES/mailbench.err"
	MB_RC=$?
	set -e
	phase "bench-mail" "$t0"
	[ "$MB_RC" = 0 ] || log "bench-mail failed (exit $MB_RC): $(tail -n 3 "$RES/mailbench.err")"
	# file bytes only: the blob store's two levels of directories are not mail
	find "$DATA/blobs" -type f -printf '%s\n' | awk '{s += $1} END {print "blobs_bytes=" s + 0}' \
		>"$RES/yizhan-sizes.txt"
	for d in "$DATA"/accounts/*/*/index; do
		[ -d "$d" ] && du -sb "$d" | awk '{print "index_dir_bytes=" $1}' >>"$RES/yizhan-sizes.txt"
		[ -f "$d/XAPIANDB" ] && echo "index_shards=$(grep -c '^auto ' "$d/XAPIANDB")" \
			>>"$RES/yizhan-sizes.txt"
	done
	IDX=$(ls -d "$DATA"/accounts/*/*/index 2>/dev/null | head -n 1)
	if [ "$FLOOR" = 1 ] && [ -n "$IDX" ]; then
		FSH=$(awk -F= '/^index_shards=/ {print $2; exit}' "$RES/yizhan-sizes.txt")
		FB=$((512 / ${FSH:-1})) # search/index.c: DRAIN_BATCH jobs per commit, spread over the shards
		log "xapian floor: the same documents, Xapian alone (${FSH:-1} threads, $FB per commit)"
		t0=$(now)
		set +e
		timeout "$T_IMPORT" "$XF" "$IDX" "$WORK/floor" "${FSH:-1}" "$FB" >"$RES/floor.txt" \
			2>"$RES/floor.err"
		FL_RC=$?
		set -e
		rm -rf "$WORK/floor"
		phase "xapian floor" "$t0"
		[ "$FL_RC" = 0 ] || log "xapian floor failed (exit $FL_RC): $(tail -n 3 "$RES/floor.err")"
	fi
else
	log "yizhan stored nothing: $(sed -n 's/^  //p' "$RES/import.out" | head -n 1)"
fi

# --- notmuch ----------------------------------------------------------------------------------
if [ "$NOTMUCH" = 1 ]; then
	NMDB="$WORK/notmuch"
	mkdir -p "$NMDB"
	export NOTMUCH_CONFIG="$WORK/notmuch-config"
	cat >"$NOTMUCH_CONFIG" <<NMCONF
[database]
path=$NMDB
mail_root=$MAIL
[user]
name=Bench
primary_email=$ADDR
[new]
tags=unread;inbox;
ignore=
[search]
exclude_tags=
[maildir]
synchronize_flags=true
NMCONF
	notmuch --version >"$RES/notmuch-version.txt"
	log "notmuch new"
	t0=$(now)
	set +e
	timeout "$T_NMNEW" notmuch new >"$RES/notmuch-new.out" 2>&1
	NM_RC=$?
	set -e
	NM_WALL=$(elapsed "$t0" "$(now)")
	phase "notmuch new" "$t0"
	echo "wall_s=$NM_WALL rc=$NM_RC" >>"$RES/notmuch-new.out"
	tail -n 3 "$RES/notmuch-new.out" | tr '\r' '\n' | tail -n 3 | sed 's/^/    /' >&2
	du -sb "$NMDB" | awk '{print "db_bytes=" $1}' >"$RES/notmuch-sizes.txt"
	notmuch count '*' | awk '{print "messages=" $1}' >>"$RES/notmuch-sizes.txt"
	log "notmuch count + search ($NM_REPEATS runs per query)"
	t0=$(now)
	timeout "$T_BENCH" python3 - "$RES/queries.tsv" "$NM_REPEATS" >"$RES/notmuch-search.txt" <<'PY'
import subprocess, sys, time
reps = int(sys.argv[2])
def pct(v, p):
    v = sorted(v)
    k = max(1, -(-len(v) * p // 100))
    return v[int(k) - 1]
def series(name, argv):
    for _ in range(3):
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
        t.append((time.perf_counter() - t0) * 1000)
    return "n=%d p50_ms=%.3f p95_ms=%.3f max_ms=%.3f" % (len(t), pct(t, 50), pct(t, 95), max(t))
# the floor: a process start, the database open and an empty answer
print("notmuch name=floor", series("floor", ["notmuch", "search", "--output=messages",
      "--limit=50", "--", "id:no-such-message@bench.test"]), flush=True)
for line in open(sys.argv[1], encoding="utf-8"):
    name, _, nq = line.rstrip("\n").split("\t")
    count = subprocess.run(["notmuch", "count", "--output=messages", "--", nq],
                           capture_output=True, text=True, check=True).stdout.strip()
    hits = subprocess.run(["notmuch", "search", "--output=messages", "--limit=50",
                           "--sort=newest-first", "--", nq], capture_output=True, text=True,
                          check=True).stdout.count("\n")
    s = series(name, ["notmuch", "search", "--output=messages", "--limit=50",
                      "--sort=newest-first", "--", nq])
    print("notmuch name=%s count=%s hits=%d %s" % (name, count, hits, s), flush=True)
PY
	phase "notmuch search" "$t0"
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
RUN_MIN=$(awk -v a="$T_START" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 60 }')

# --- report -----------------------------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- lib store search server 2>/dev/null || REV="$REV + uncommitted changes"
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
	echo "xapian=$(pkg-config --modversion xapian-core 2>/dev/null || echo '?')"
	echo "gmime=$(pkg-config --modversion gmime-3.0 2>/dev/null || echo '?')"
	echo "sqlite=$(pkg-config --modversion sqlite3 2>/dev/null || echo '?')"
	echo "notmuch=$(notmuch --version 2>/dev/null | awk '{print $2}' || echo '?')"
	echo "nm_note=$NM_NOTE"
	echo "count=$COUNT"
	echo "args=$ARGS"
	echo "run_min=$RUN_MIN"
	echo "phases=$PHASES"
	echo "yz_ok=$YZ_OK"
	echo "import_rc=$IMPORT_RC"
} >"$RES/run.txt"

python3 - "$RES" >"$RES/report.md" <<'PY'
import json, os, re, sys
res = sys.argv[1]
def kv(line):
    return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
def read(name):
    p = os.path.join(res, name)
    return open(p, encoding="utf-8", errors="replace").read() if os.path.exists(p) else ""
run = dict(l.split("=", 1) for l in read("run.txt").splitlines() if "=" in l)
corpus = json.loads(read("corpus.json") or "{}")
mail_bytes = corpus.get("bytes", 0)
n = int(run["count"])
out = []
P = out.append
def f1(x): return "%.1f" % x
def f2(x): return "%.2f" % x
def goal(ok): return "met" if ok else "**missed**"

# yizhan import
imp = read("import.out")
m = re.search(r"imported (\d+) messages \(([\d.]+) MB\).* in ([\d.]+) s \(([\d.]+) messages/s, ([\d.]+) MB/s\)", imp)
ix = re.search(r"indexed (\d+) messages in ([\d.]+) s \(([\d.]+) messages/s\)", imp)
cx = re.search(r"compacted the index in ([\d.]+) s \(([\d.]+) MB -> ([\d.]+) MB\)", imp)
wall = float(kv(imp.splitlines()[-1]).get("wall_s", 0)) if imp else 0
sk = re.search(r"skipped (\d+)", imp)
mb = read("mailbench.txt").splitlines()
info = next((kv(l) for l in mb if l.startswith("info ")), {})
lists = [kv(l) for l in mb if l.startswith("list ")]
searches = [kv(l) for l in mb if l.startswith("search ")]
sizes = dict(l.split("=", 1) for l in read("yizhan-sizes.txt").splitlines() if "=" in l)
floor = {}
for l in read("floor.txt").splitlines():
    floor.update(kv(l))

# notmuch
nmnew = read("notmuch-new.out")
nm_wall = float(kv(nmnew.strip().splitlines()[-1]).get("wall_s", 0)) if nmnew.strip() else 0
nmsz = dict(l.split("=", 1) for l in read("notmuch-sizes.txt").splitlines() if "=" in l)
nms = {kv(l)["name"]: kv(l) for l in read("notmuch-search.txt").splitlines() if l.startswith("notmuch ")}
nm_msgs = int(nmsz.get("messages", 0) or 0)
nm_rate = nm_msgs / nm_wall if nm_wall else 0

P("Corpus: %d messages, %.1f MB (%s), sizes %s..%s bytes (median %s), %d with attachments, "
  "%d with HTML, %d replies; seed %s." % (
      n, mail_bytes / 1e6, ", ".join("%s %d" % kv_ for kv_ in corpus.get("stats", {}).get("lang", {}).items()),
      corpus.get("size", {}).get("min"), corpus.get("size", {}).get("max"),
      corpus.get("size", {}).get("p50"), corpus.get("stats", {}).get("attachments", 0),
      corpus.get("stats", {}).get("html", 0), corpus.get("stats", {}).get("replies", 0),
      corpus.get("seed")))
P("")
P("| import and index | Yizhan | notmuch %s |" % run.get("notmuch", "?"))
P("|---|---:|---:|")
yz_rate = 0
if m:
    stored, secs = int(m.group(1)), float(m.group(3))
    isecs = float(ix.group(2)) if ix else 0
    yz_rate = stored / wall if wall else 0
    P("| messages stored / indexed | %d / %s%s | %s |" % (stored, ix.group(1) if ix else "0",
      " (%s skipped)" % sk.group(1) if sk else "", nm_msgs or "—"))
    shards = int(sizes.get("index_shards", 0) or 0)
    ixa = re.search(r"messages/s\), ([\d.]+) s of it after storing", imp)
    P("| store (`yizhan import`%s) | %s messages/s, %s MB/s (%s s) | — |" % (
        ", indexing alongside" if ixa else " before indexing", m.group(4), m.group(5), m.group(3)))
    P("| index (Xapian%s) | %s docs/s (%s s%s) | — |" % (
        ", %d shards" % shards if shards else "", ix.group(3) if ix else "—",
        ix.group(2) if ix else "—", ", %s s of it after storing" % ixa.group(1) if ixa else ""))
    if cx:
        P("| compaction of the index (after a bulk import) | %s s, %s MB -> %s MB | — |" % (
            cx.group(1), cx.group(2), cx.group(3)))
    P("| import + index, wall clock | **%.0f messages/s** (%s s) | **%.0f messages/s** (`notmuch new`, %s s) |" % (
        yz_rate, f1(wall), nm_rate, f1(nm_wall)))
    if floor.get("write_cpu_us_per_doc"):
        P("| floor: Xapian alone writing the same documents (`bench-xapian-floor`, %s threads) | "
          "%s ms CPU per document (%s terms each, %s ns a term), at most **%s docs/s** on %s cores "
          "with nothing else running | — |" % (
              floor["threads"], f2(float(floor["write_cpu_us_per_doc"]) / 1000), floor["terms_per_doc"],
              floor["write_cpu_ns_per_term"], floor["write_only_docs_per_s_on_%s_cores" % floor["threads"]],
              floor["threads"]))
    ib = int(info.get("index_bytes", sizes.get("index_dir_bytes", 0)) or 0)
    P("| index size ÷ mail size | **%s** (%.0f MB Xapian) | %s (%.0f MB) |" % (
        f2(ib / mail_bytes) if mail_bytes else "?", ib / 1e6,
        f2(int(nmsz.get("db_bytes", 0)) / mail_bytes) if nmsz and mail_bytes else "—",
        int(nmsz.get("db_bytes", 0) or 0) / 1e6))
    P("| other stored bytes ÷ mail size | blobs %s, mail.db %s | (the Maildir stays) |" % (
        f2(int(sizes.get("blobs_bytes", 0)) / mail_bytes) if mail_bytes else "?",
        f2(int(info.get("maildb_bytes", 0)) / mail_bytes) if mail_bytes else "?"))
else:
    first = re.search(r"^  (.*)$", imp, re.M)
    P("| import + index, wall clock | no messages stored (%s) | **%.0f messages/s** (`notmuch new`, %s s) |" % (
        first.group(1) if first else "import failed", nm_rate, f1(nm_wall)))
    if nmsz:
        P("| index size ÷ mail size | — | %s |" % f2(int(nmsz.get("db_bytes", 0)) / mail_bytes))
P("")
if lists:
    P("List pages (limit 50; INBOX of %s messages, %s unread), in-process:" % (
        info.get("messages"), info.get("unread")))
    P("")
    P("| listing | pages | p50 (ms) | p95 (ms) | max (ms) |")
    P("|---|---:|---:|---:|---:|")
    for l in lists:
        if l["name"] == "first":
            what, pages = "first page", "1 (%s calls)" % l["n"]
        elif l["name"] == "walk":
            what, pages = "every page, cursor to the end, no total", l.get("pages", "?")
        else:
            what, pages = "pages at every depth, with the total", "%s of %s" % (l.get("pages"), l.get("of"))
        flt = "" if l["filter"] == "none" else " filter=" + l["filter"]
        P("| sort=%s%s, %s | %s | %s | %s | %s |" % (l["sort"], flt, what, pages, l["p50_ms"],
          l["p95_ms"], l["max_ms"]))
    P("")
qs = [l.split("\t") for l in read("queries.tsv").splitlines()]
truth = {q["name"]: q["generator_count"] for q in corpus.get("queries", [])}
if searches or nms:
    P("Search (limit 50; Yizhan in-process via `search_mail`, notmuch as `notmuch search --output=messages "
      "--limit=50`, a process per query; counts: Yizhan by paging through every match, notmuch "
      "`notmuch count`, and what the generator planted or wrote):")
    P("")
    P("| query | generator | Yizhan count | notmuch count | Yizhan by date p50 / p95 (ms) | Yizhan relevance p50 / p95 (ms) | notmuch p50 / p95 (ms) |")
    P("|---|---:|---:|---:|---:|---:|---:|")
    for name, yq, nq in qs:
        d = next((s for s in searches if s["name"] == name and s["by_date"] == "1"), None)
        r = next((s for s in searches if s["name"] == name and s["by_date"] == "0"), None)
        nmq = nms.get(name)
        def lat(s):
            if s is None: return "—"
            if "error" in s: return "error: " + s["error"].strip('"')
            return "%s / %s" % (s["p50_ms"], s["p95_ms"])
        yc = "—" if d is None or "error" in d else (d.get("count", "?") if d.get("count") != "-1" else "≥ %s" % d.get("total"))
        P("| `%s` | %s | %s | %s | %s | %s | %s |" % (yq, truth.get(name, "?"), yc,
          nmq["count"] if nmq else "—", lat(d), lat(r), lat(nmq)))
    if "floor" in nms:
        P("")
        P("notmuch's floor (process start, database open, an empty answer): p50 %s ms, p95 %s ms." % (
            nms["floor"]["p50_ms"], nms["floor"]["p95_ms"]))
    P("")
# goals
P("Goals (from the issue):")
P("")
if m:
    P("- import + index ≥ 1,000 messages/s: **%.0f** (%s)%s." % (yz_rate, goal(yz_rate >= 1000),
      "; Xapian's own writing of these documents alone allows at most %s/s here" % floor[
          "write_only_docs_per_s_on_%s_cores" % floor["threads"]] if floor.get("threads") else ""))
    if nm_rate:
        P("- import + index ≥ 2× notmuch: **%.2f×** (%s)." % (yz_rate / nm_rate, goal(yz_rate >= 2 * nm_rate)))
    ib = int(info.get("index_bytes", sizes.get("index_dir_bytes", 0)) or 0)
    if mail_bytes:
        P("- index ≤ 1.0× the mail size: **%.2f×** (%s)." % (ib / mail_bytes, goal(ib <= mail_bytes)))
else:
    P("- import + index: not measured, Yizhan stored no messages.")
if searches:
    ok = [s for s in searches if "p95_ms" in s]
    worst = max(ok, key=lambda s: float(s["p95_ms"])) if ok else None
    errs = [s["name"] for s in searches if "error" in s]
    if worst:
        P("- search p95 ≤ 50 ms: worst **%s ms** (`%s`, %s) (%s)%s." % (
            worst["p95_ms"], dict((q[0], q[1]) for q in qs).get(worst["name"], worst["name"]),
            "by date" if worst["by_date"] == "1" else "relevance",
            goal(float(worst["p95_ms"]) <= 50 and not errs),
            "; errors: " + ", ".join(errs) if errs else ""))
if lists:
    worst = max(lists, key=lambda s: float(s["p95_ms"]))
    P("- list page p95 ≤ 20 ms at %s messages: worst **%s ms** (sort=%s%s, %s) (%s)." % (
        info.get("messages"), worst["p95_ms"], worst["sort"],
        "" if worst["filter"] == "none" else " filter=" + worst["filter"],
        {"first": "first page", "walk": "every page, no total"}.get(worst["name"], "pages at every depth with the total"),
        goal(float(worst["p95_ms"]) <= 20)))
if run.get("nm_note"):
    P("- " + run["nm_note"] + ".")
P("")
P("Run time: %s min (%s)." % (run.get("run_min", "?"), run.get("phases", "")))
sys.stdout.write("\n".join(out) + "\n")
PY

{
	echo "Recorded $(date -u '+%Y-%m-%d %H:%M UTC') with \`bash bench/store.sh${ARGS:+ $ARGS}\`."
	echo
	echo "- Machine: $(nproc) CPUs, $CPU, $(awk -F= '/^mem_gb/ {print $2}' "$RES/run.txt") GB;" \
		"$(awk -F= '/^fs/ {print $2}' "$RES/run.txt") under $PARENT; load average before/after:" \
		"$LOAD_BEFORE / $LOAD_AFTER."
	echo "- Yizhan $REV, build \`$BTYPE\`; Xapian $(awk -F= '/^xapian/ {print $2}' "$RES/run.txt")," \
		"GMime $(awk -F= '/^gmime/ {print $2}' "$RES/run.txt"), SQLite $(awk -F= '/^sqlite/ {print $2}' "$RES/run.txt");" \
		"notmuch $(awk -F= '/^notmuch/ {print $2}' "$RES/run.txt") (Debian, default config: no CJK n-grams)."
	echo
	cat "$RES/report.md"
} >"$RES/record.md"

echo
cat "$RES/report.md"
echo
echo "raw output: bench/results/$STAMP-store/"

if [ "$RECORD" = 1 ]; then
	DOC="$ROOT/docs/BENCHMARKS.md"
	python3 - "$DOC" "$RES/record.md" <<'PY'
import sys
doc, rep = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
begin, end = "<!-- store-results:begin -->", "<!-- store-results:end -->"
text = open(doc, encoding="utf-8").read()
if begin not in text or end not in text:
    raise SystemExit("store.sh: %s has no %s ... %s markers" % (doc, begin, end))
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(doc, "w", encoding="utf-8").write(head + begin + "\n" + rep.rstrip("\n") + "\n" + end + tail)
PY
	echo "recorded in docs/BENCHMARKS.md"
fi
