#!/usr/bin/env bash
# The Python cases recorded by viztracer instead of `cctrace record` (another tool's trace of
# the same real program): expected vs got, as run.sh. Needs viztracer (pip; installed when
# missing).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE="$ROOT/realworld"
CCTRACE=${CCTRACE:-$ROOT/.build/release/cctrace}
[ -x "$CCTRACE" ] || (cd "$ROOT" && swift build -c release --product cctrace >/dev/null) || exit 1
python3 -c "import viztracer" 2>/dev/null || pip install -q viztracer >/dev/null 2>&1 || exit 1
WORK=$(mktemp -d /tmp/cctrace-viztracer.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# case | program | expected model | expected warnings (sorted, comma-separated, - for none)
cases=(
  "py-cpu-threads|py_cpu_threads.py|processes|cpu-serialized"
  "py-lock-threads|py_lock_threads.py|threads|lock-contention"
  "py-mp-payload|mp_payload.py|sequential|ipc-overhead"
  "py-seq-cpu|py_seq_cpu.py|sequential|-"
)
printf "%-18s %-11s %-11s %-20s %-20s %s\n" case expected got "expected warnings" "got warnings" result
misses=0
for c in "${cases[@]}"; do
  IFS='|' read -r name program model warn <<<"$c"
  [ -f "$HERE/programs/$program" ] || { echo "$name: no $program"; continue; }
  (cd "$WORK" && timeout 300 viztracer --quiet --tracer_entries 5000000 -o "$name.json" "$HERE/programs/$program" >/dev/null 2>&1)
  "$CCTRACE" report --format json "$WORK/$name.json" >"$WORK/$name.report.json" 2>/dev/null
  read -r got warns < <(python3 - "$WORK/$name.report.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
w = sorted({f["id"] for f in d["findings"] if f["severity"] == "warning"})
print(d["recommendation"]["model"], ",".join(w) or "-")
PY
)
  result=ok
  if [ "$got" != "$model" ] || [ "$warns" != "$warn" ]; then result=MISS; misses=$((misses + 1)); fi
  printf "%-18s %-11s %-11s %-20s %-20s %s\n" "$name" "$model" "$got" "$warn" "$warns" "$result"
done
echo "viztracer: $misses miss(es)"
