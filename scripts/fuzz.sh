#!/usr/bin/env bash
# scripts/fuzz.sh: build the libFuzzer targets (tests/fuzz/) with clang + ASan/UBSan and run
# each one for a bounded time against a copy of its seed corpus and committed crashers.
#
# Usage: scripts/fuzz.sh [--keep-going] [SECONDS] [TARGET...]
#   SECONDS       run time per target (default 60)
#   TARGET        a name from tests/fuzz/meson.build's fuzz_targets: cfg route scram b64 mime
#                 query smtp smtpdata imap imaplit mutf7 pop3 ... (default: all of them)
#   --keep-going  libFuzzer fork mode: carry on after a crash and collect every crasher
#                 (default: stop a target at its first crash)
# Environment: FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS=-only_ascii=1 to step past a
# known crash on NUL bytes while it is being fixed.
#
# New crash-* and leak-* files are copied into tests/fuzz/regress/TARGET/ (one per distinct
# bug: same broken invariant or same sanitizer summary line, smallest input kept; bugs already
# there are not copied again), where the normal test run (meson test --suite fuzz) replays
# them; commit them with their fix. The exit status is non-zero if any target crashed.
# The build directory is build-fuzz/ (FUZZ_BUILD=DIR for another; configured on first use, with
# CC=clang and CXX=clang++: targets using yz_server_dep link Xapian's C++, so the link is a C++
# one and must be clang's too; a directory configured with another C++ compiler is wiped and
# configured again). Nothing is installed; needs clang with the libFuzzer runtime.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
# every target of tests/fuzz/meson.build (its fuzz_targets dictionary), so none is forgotten
mapfile -t ALL_TARGETS < <(sed -n "/^fuzz_targets = {/,/^}/s/^ *'\([a-z0-9_]*\)': .*/\1/p" \
	"$ROOT/tests/fuzz/meson.build")
[ ${#ALL_TARGETS[@]} -gt 0 ] || { echo "fuzz: no targets in tests/fuzz/meson.build" >&2; exit 2; }
SECS=60
KEEP_GOING=0
TARGETS=()

for a in "$@"; do
	case "$a" in
	--keep-going) KEEP_GOING=1 ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
	[0-9]*) SECS=$a ;;
	*) TARGETS+=("$a") ;;
	esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
	[ -d "$ROOT/tests/fuzz/corpus/$t" ] || { echo "fuzz: unknown target '$t'" >&2; exit 2; }
done
command -v clang >/dev/null || { echo "fuzz: clang not found" >&2; exit 2; }
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found" >&2; exit 2; }

# the compiler a configured directory's rule NAME runs ("clang", "c++", ...)
rule_cc() { sed -n "/^rule $1\$/,/^\$/s/^ *command = \([^ ]*\) .*/\1/p" "$BUILD/build.ninja"; }
setup=(meson setup "$BUILD" "$ROOT" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false)
if [ ! -f "$BUILD/build.ninja" ]; then
	CC=clang CXX=clang++ "${setup[@]}"
elif [ "$(basename "$(rule_cc c_COMPILER)")" != clang ] ||
	[ "$(basename "$(rule_cc cpp_LINKER)")" != clang++ ]; then
	echo "fuzz: $BUILD was configured without clang and clang++; configuring it again" >&2
	CC=clang CXX=clang++ "${setup[@]}" --wipe
fi
ninja -C "$BUILD" $(printf 'tests/fuzz/fuzz-%s ' "${TARGETS[@]}")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/yz-fuzz.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
crashed=0
summary=()

# A short stable name for the bug an input triggers: the broken invariant, or the sanitizer's
# SUMMARY line (leaks: the first frame that allocated), without addresses and sizes.
signature() {
	local out
	out=$(TMPDIR="$WORK" timeout 60 "$BUILD/tests/fuzz/fuzz-$1" "$2" 2>&1 || true)
	if grep -q 'invariant failed' <<<"$out"; then
		grep -m1 -o '[^/ ]*: invariant failed: .*' <<<"$out"
	elif grep -q 'detected memory leaks' <<<"$out"; then
		echo "leak $(grep -m1 -E '^ +#[1-9] .* in [a-z_]' <<<"$out" | sed -E 's/.* in ([^ ]+) .*/\1/')"
	else
		(grep -m1 '^SUMMARY:' <<<"$out" || echo unknown) | sed -E 's/0x[0-9a-f]+//g; s/[0-9]+ byte//g'
	fi
}
for t in "${TARGETS[@]}"; do
	w="$WORK/$t"
	mkdir -p "$w/corpus" "$w/artifacts" "$w/tmp"
	cp "$ROOT/tests/fuzz/corpus/$t"/* "$w/corpus/" 2>/dev/null || true
	find "$ROOT/tests/fuzz/regress/$t" -maxdepth 1 -type f ! -name '.*' \
		-exec cp {} "$w/corpus/" \; 2>/dev/null || true
	args=(-max_total_time="$SECS" -artifact_prefix="$w/artifacts/" -print_final_stats=1
	      -timeout=10 -rss_limit_mb=2048 -max_len=4096 ${FUZZ_ARGS:-})
	if [ "$KEEP_GOING" = 1 ]; then
		args+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
	fi
	echo "== fuzz-$t: ${SECS}s"
	set +e
	# hard stop well after max_total_time in case the target hangs
	TMPDIR="$w/tmp" timeout --kill-after=10 $((SECS + 120)) \
		"$BUILD/tests/fuzz/fuzz-$t" "${args[@]}" "$w/corpus" >"$w/log" 2>&1
	rc=$?
	set -e
	execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$w/log" |
		awk '{s += $2} END {print s + 0}' || true)
	if [ "${execs:-0}" = 0 ]; then # fork mode prints "#N: cov: ..." lines instead
		execs=$( (grep -o '^#[0-9]*' "$w/log" || true) | tail -1 | tr -d '#')
	fi
	# one crasher per distinct bug: signatures of what regress/ already holds, then the new
	# artifacts smallest first
	declare -A seen=()
	for f in "$ROOT/tests/fuzz/regress/$t"/crash-* "$ROOT/tests/fuzz/regress/$t"/leak-*; do
		[ -e "$f" ] && seen["$(signature "$t" "$f")"]=1
	done
	n=0
	while IFS= read -r f; do
		[ -n "$f" ] || continue
		n=$((n + 1))
		sig=$(signature "$t" "$f")
		[ -z "${seen[$sig]:-}" ] || continue
		seen["$sig"]=1
		cp "$f" "$ROOT/tests/fuzz/regress/$t/"
		echo "   new crasher: tests/fuzz/regress/$t/$(basename "$f")"
		echo "      $sig"
	done < <(ls -1S -r "$w/artifacts"/crash-* "$w/artifacts"/leak-* 2>/dev/null || true)
	unset seen
	if [ "$n" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$KEEP_GOING" = 0 ]; }; then
		crashed=1
		cp "$w/log" "$BUILD/fuzz-$t.log"
		echo "   full log: $BUILD/fuzz-$t.log"
	fi
	summary+=("$(printf '%-9s execs=%-10s crashers=%-3s exit=%s' "$t" "$execs" "$n" "$rc")")
done

echo "== summary (${SECS}s per target)"
printf '%s\n' "${summary[@]}"
exit "$crashed"
