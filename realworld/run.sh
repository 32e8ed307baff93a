#!/usr/bin/env bash
# Runs the real-program cases (see README.md): expected vs got, one line each.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE="$ROOT/realworld"
CCTRACE=${CCTRACE:-$ROOT/.build/release/cctrace}
[ -x "$CCTRACE" ] || (cd "$ROOT" && swift build -c release --product cctrace >/dev/null) || exit 1
RUNS=${REALWORLD_RUNS:-1}
WORK=$(mktemp -d /tmp/cctrace-realworld.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export WORK HERE

record() { "$CCTRACE" record -o "$TRACE" -- "$@"; }
export -f record 2>/dev/null || true

cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  for f in "$HERE"/cases/*.sh; do cases+=("$(basename "$f" .sh)"); done
fi
printf "%-22s %-11s %-11s %-28s %-28s %s\n" case expected got "expected warnings" "got warnings" result
misses=0
for c in "${cases[@]}"; do
  unset -f setup_case run_case
  NAME="" LOAD="" EXPECT_MODEL="" EXPECT_WARN="" WHY=""
  # shellcheck source=/dev/null
  source "$HERE/cases/$c.sh"
  if declare -f setup_case >/dev/null && ! setup_case >"$WORK/$c.setup.log" 2>&1; then
    printf "%-22s %-11s %-11s %-28s %-28s %s\n" "$c" "$EXPECT_MODEL" "-" "$EXPECT_WARN" "-" "SETUP FAILED"
    tail -3 "$WORK/$c.setup.log"
    misses=$((misses + 1))
    continue
  fi
  for run in $(seq 1 "$RUNS"); do
    TRACE="$WORK/$c.$run.json"
    export TRACE
    rm -f "$TRACE"
    run_case >"$WORK/$c.$run.log" 2>&1
    if [ ! -s "$TRACE" ]; then
      printf "%-22s %-11s %-11s %-28s %-28s %s\n" "$c" "$EXPECT_MODEL" "-" "$EXPECT_WARN" "-" "NO TRACE"
      tail -3 "$WORK/$c.$run.log"
      misses=$((misses + 1))
      continue
    fi
    "$CCTRACE" report --format json "$TRACE" >"$WORK/$c.$run.report.json" 2>/dev/null
    read -r got warns < <(python3 - "$WORK/$c.$run.report.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
w = sorted({f["id"] for f in d["findings"] if f["severity"] == "warning"})
print(d["recommendation"]["model"], ",".join(w) or "-")
PY
)
    want=$(echo "$EXPECT_WARN" | tr ' ' '\n' | grep -v '^$' | sort | paste -sd, -)
    want=${want:--}
    result=ok
    if [ "$got" != "$EXPECT_MODEL" ] || [ "$warns" != "$want" ]; then result=MISS; misses=$((misses + 1)); fi
    printf "%-22s %-11s %-11s %-28s %-28s %s\n" "$c" "$EXPECT_MODEL" "$got" "$want" "$warns" "$result"
    if [ -n "${REALWORLD_KEEP:-}" ]; then cp "$TRACE" "$REALWORLD_KEEP/$c.$run.json"; fi
  done
done
echo "realworld: $misses miss(es)"
[ "$misses" -eq 0 ]
