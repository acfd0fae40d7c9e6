#!/usr/bin/env bash
# The README's second command: the whole suite under ASan + UBSan with -Werror.
#   unit (cmocka) · fuzz corpus/crasher replay · protocol (Python stdlib clients against the real
#   server over TLS) · browser (playwright-core driving Debian's chromium)
# Ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
if [ ! -f build-test/build.ninja ]; then
	meson setup build-test -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true \
		--buildtype=debug >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi
ninja -C build-test || { echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
meson test -C build-test --print-errorlogs --num-processes 2 "$@"
status=$?

python3 - build-test/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit $status
