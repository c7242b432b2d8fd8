#!/usr/bin/env bash
# Set up (with test extras) and run every suite: pytest, then the C# (Unity) and C (OBS) suites
# when their scripts exist. Ends with one line `total: N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || exit 1

passed=0; failed=0; status=0
log=$(mktemp)
.venv/bin/python -m pytest -q -p no:cacheprovider 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || status=1
last=$(grep -E '[0-9]+ (passed|failed|errors?)' "$log" | grep -E ' in [0-9.]+s' | tail -n 1)
p=$(echo "$last" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
f=$(echo "$last" | grep -oE '[0-9]+ (failed|error|errors)' | awk '{s += $1} END {print s + 0}')
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
if [ "$rc" != 0 ] && [ "${f:-0}" = 0 ]; then failed=$((failed + 1)); fi  # e.g. no summary line

for suite in unity-package/Tests/ci.sh obs-plugin/ci.sh; do
  [ -f "$suite" ] || continue
  echo "== $suite"
  PYTHON=.venv/bin/python bash "$suite" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || status=1
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$last" ]; then
    echo "$suite printed no 'N passed, N failed' line"; failed=$((failed + 1)); status=1
  else
    passed=$((passed + $(echo "$last" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$last" | cut -d' ' -f3)))
  fi
done
rm -f "$log"
echo "total: $passed passed, $failed failed"
exit $status
