#!/usr/bin/env bash
# The never-hang stress run: cctrace-stress (threads allocating and freeing, Swift errors and
# C++ exceptions, threads and task groups started and joined, fork and posix_spawn, a contended
# lock) traced with the stack sampler at its highest rate and the watchdog at 2 ms, RUNS times.
# A run that does not finish within TIMEOUT seconds is a hang: every thread's stack is printed
# (gdb) and the script fails. A run that crashes, or whose output differs from an untraced run,
# fails too. Prints runs, samples and watchdog captures at the end.
#
#   scripts/stress.sh [RUNS] [THREADS] [ROUNDS]      (make stress; make test runs a short one)
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-50}
THREADS=${2:-8}
ROUNDS=${3:-40}
TIMEOUT=${STRESS_TIMEOUT:-120}
BIN=${STRESS_BIN:-.build/release/cctrace-stress}
[ -x "$BIN" ] || swift build -c release --product cctrace-stress >/dev/null || exit 1
WORK=$(mktemp -d /tmp/cctrace-stress.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

expected=$("$BIN" "$THREADS" "$ROUNDS") || { echo "stress: the untraced run failed"; exit 1; }
samples=0
captures=0
for run in $(seq 1 "$RUNS"); do
  trace="$WORK/run.json"
  rm -f "$trace"
  CCTRACE_OUTPUT="$trace" CCTRACE_SAMPLE_HZ=1000 CCTRACE_WATCHDOG_MS=2 CCTRACE_STACK_DEPTH=64 \
    "$BIN" "$THREADS" "$ROUNDS" >"$WORK/out" 2>"$WORK/err" &
  pid=$!
  waited=0
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((TIMEOUT * 10)) ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stress: run $run HUNG after ${TIMEOUT} s; every thread's stack:"
    if command -v gdb >/dev/null; then
      gdb -batch -nx -p "$pid" -ex "set complaints 0" -ex "thread apply all bt 40" 2>/dev/null \
        | grep -E "^Thread |^#" | head -400
    else
      for t in /proc/"$pid"/task/*; do echo "thread ${t##*/}: $(cat "$t"/wchan 2>/dev/null) $(cat "$t"/syscall 2>/dev/null)"; done
    fi
    kill -9 "$pid"
    exit 1
  fi
  wait "$pid"
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "stress: run $run exited with $status"; cat "$WORK/err"; exit 1
  fi
  if [ "$(cat "$WORK/out")" != "$expected" ]; then
    echo "stress: run $run printed something else under tracing:"; cat "$WORK/out"; echo "expected: $expected"; exit 1
  fi
  n=$(grep -c '"kind":"cpu"' "$trace" || true)
  w=$(grep -c '"kind":"watchdog"' "$trace" || true)
  samples=$((samples + n))
  captures=$((captures + w))
done
echo "stress: $RUNS runs × $THREADS threads × $ROUNDS rounds: no hang, no crash, output unchanged;" \
  "$samples stack samples, $captures watchdog captures"
