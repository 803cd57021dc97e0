#!/bin/bash
# Runs every test: the cmocka unit binaries in $B/tests and the TAP scripts
# in tests/integration (executables, run by prove). Prints one line per test
# and a closing "N passed, N failed" line; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
export B
case "$B" in
/*) export ANYCAST_PROBE="$B/anycast-probe" ;;
*) export ANYCAST_PROBE="$PWD/$B/anycast-probe" ;;
esac
export CMOCKA_MESSAGE_OUTPUT=TAP
log=$(mktemp)
trap 'rm -f "$log"' EXIT

files=()
for f in "$B"/tests/test_*; do [ -x "$f" ] && files+=("$f"); done
for f in tests/integration/*.t; do [ -e "$f" ] && files+=("$f"); done
if [ -n "${TESTS:-}" ]; then files=($TESTS); fi

start=$(date +%s)
prove --exec '' -v --timer "${files[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -cE '^[[:space:]]*ok [0-9]+' "$log")
# A "not ok ... # TODO" is a known gap, not a failure (TAP).
failed=$(grep -E '^[[:space:]]*not ok [0-9]+' "$log" | grep -vc '# TODO')
# A script that died before printing its plan fails without a "not ok".
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "time: $(( $(date +%s) - start ))s"
echo "$passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
