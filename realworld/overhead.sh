#!/usr/bin/env bash
# What `cctrace record` costs the real programs: each batch case (a fixed amount of work) run
# plain and under record, alternately, RUNS times (default 3); prints the median wall times and
# their ratio, and record's fixed start-up (`cctrace record -- true`). Servers are left out:
# their wall time is the load's duration, not their speed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE="$ROOT/realworld"
CCTRACE=${CCTRACE:-$ROOT/.build/release/cctrace}
[ -x "$CCTRACE" ] || (cd "$ROOT" && swift build -c release --product cctrace >/dev/null) || exit 1
RUNS=${RUNS:-3}
WORK=$(mktemp -d /tmp/cctrace-overhead.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export WORK HERE
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(zstd-threads xz-threads bzip2-sequential make-j2 c-rwlock py-cpu-threads py-lock-threads py-mp-payload py-seq-cpu sqlite-writers)
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-20s %10s %10s %8s %9s\n" case plain_s traced_s ratio extra_s
for c in "${cases[@]}"; do
  unset -f setup_case run_case
  # shellcheck source=/dev/null
  source "$HERE/cases/$c.sh"
  if declare -f setup_case >/dev/null; then setup_case >/dev/null 2>&1 || { echo "$c: setup failed"; continue; }; fi
  : >"$WORK/plain" ; : >"$WORK/traced"
  for _ in $(seq "$RUNS"); do
    record() { "$@"; }
    t0=$(now); (run_case) >/dev/null 2>&1; t1=$(now)
    awk "BEGIN { print $t1 - $t0 }" >>"$WORK/plain"
    TRACE="$WORK/trace.json"
    record() { "$CCTRACE" record -o "$TRACE" -- "$@"; }
    t0=$(now); (run_case) >/dev/null 2>&1; t1=$(now)
    awk "BEGIN { print $t1 - $t0 }" >>"$WORK/traced"
  done
  p=$(median <"$WORK/plain"); t=$(median <"$WORK/traced")
  printf "%-20s %10.3f %10.3f %7.2fx %9.3f\n" "$c" "$p" "$t" "$(awk "BEGIN { print $t / $p }")" \
    "$(awk "BEGIN { print $t - $p }")"
done
: >"$WORK/start"
for _ in $(seq "$RUNS"); do
  t0=$(now); "$CCTRACE" record -o "$WORK/true.json" -- true >/dev/null 2>&1; t1=$(now)
  awk "BEGIN { print $t1 - $t0 }" >>"$WORK/start"
done
printf "record start-up (cctrace record -- true): %.3f s\n" "$(median <"$WORK/start")"
# Every process the command starts loads the shim (~1 ms each): a pyenv `python3` is a shell
# shim that runs dozens of processes before the interpreter.
: >"$WORK/py-plain"; : >"$WORK/py-traced"
for _ in $(seq "$RUNS"); do
  t0=$(now); python3 -c pass; t1=$(now); awk "BEGIN { print $t1 - $t0 }" >>"$WORK/py-plain"
  t0=$(now); "$CCTRACE" record -o "$WORK/py.json" -- python3 -c pass >/dev/null 2>&1; t1=$(now)
  awk "BEGIN { print $t1 - $t0 }" >>"$WORK/py-traced"
done
printf "python3 -c pass: %.3f s plain, %.3f s under record (%s processes)\n" "$(median <"$WORK/py-plain")" \
  "$(median <"$WORK/py-traced")" "$(grep -c '"cctrace.session"' "$WORK/py.json")"
