#!/usr/bin/env python3
"""make whatif — predicted vs measured wall time for every sample and every model it offers.

For each sample: record it once under its default model (CCTRACE_OUTPUT), take the what-if
table from `cctrace report --format json`, then run it untraced with `--model X` for every model
it offers, RUNS times each, and compare the median of the printed `wall_ms=` with the prediction.
The expected results are written here, before any run: every prediction within ±25 % of the
measured median or inside its printed range.

Usage: scripts/whatif.py [--runs N] [--bin DIR] [SAMPLE...]
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile

# sample → (default model, models offered). Written before the runs, from what each sample does.
SAMPLES = {
    "cpu-threads": ("threads", ["sequential", "threads", "processes"]),
    "cpu-global-lock": ("threads", ["sequential", "threads", "processes"]),
    "cpu-processes": ("processes", ["sequential", "threads", "processes"]),
    "io-threads": ("threads", ["sequential", "threads", "async"]),
    "ipc-heavy": ("processes", ["sequential", "threads", "processes"]),
    "lock-contention": ("threads", ["sequential", "threads"]),
    "blocked-loop": ("async", ["async", "hybrid"]),
    "swift-tasks": ("async", ["async", "hybrid"]),
}
TOLERANCE = 0.25


def wall_ms(binary, model, env=None):
    out = subprocess.run([binary, "--model", model], capture_output=True, text=True, env=env, timeout=120)
    m = re.search(r"wall_ms=(\d+)", out.stdout)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"{binary} --model {model}: exit {out.returncode}: {out.stderr.strip()[:200]}")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("samples", nargs="*")
    a = ap.parse_args()
    names = a.samples or list(SAMPLES)
    cctrace = os.path.join(a.bin, "cctrace")
    rows, misses = [], []
    tmp = tempfile.mkdtemp(prefix="cctrace-whatif-")
    for name in names:
        default, offered = SAMPLES[name]
        binary = os.path.join(a.bin, name)
        trace = os.path.join(tmp, f"{name}.trace.json")
        env = dict(os.environ, CCTRACE_OUTPUT=trace)
        traced = wall_ms(binary, default, env)
        rep = subprocess.run([cctrace, "report", "--format", "json", trace], capture_output=True, text=True)
        if rep.returncode != 0:
            print(f"{name}: report failed: {rep.stderr.strip()}", file=sys.stderr)
            misses.append((name, "report"))
            continue
        rec = json.loads(rep.stdout)["recommendation"]
        table = {r["model"]: r for r in rec.get("what_if", [])}
        for model in offered:
            runs = [wall_ms(binary, model) for _ in range(a.runs)]
            measured = statistics.median(runs)
            row = table.get(model)
            if row is None:
                rows.append((name, model, None, None, None, measured, runs, None, "no prediction"))
                misses.append((name, model))
                continue
            if row["current"]:
                predicted, lo, hi = row["predicted_ms"], row["low_ms"], row["high_ms"]
                note = f"now (traced run {traced} ms)"
            else:
                predicted, lo, hi = row["predicted_ms"], row["low_ms"], row["high_ms"]
                note = ""
            err = (predicted - measured) / measured if measured else float("inf")
            ok = abs(err) <= TOLERANCE or lo <= measured <= hi
            if not ok:
                misses.append((name, model))
            rows.append((name, model, predicted, lo, hi, measured, runs, err, "ok" if ok else "MISS") + ((note,) if note else ()))
    print(f"{'sample':17}{'model':12}{'predicted':>11}{'range':>20}{'measured':>10}{'error':>8}  runs / verdict")
    for r in rows:
        name, model, p, lo, hi, m, runs, err, verdict = r[:9]
        extra = ("  " + r[9]) if len(r) > 9 else ""
        if p is None:
            print(f"{name:17}{model:12}{'—':>11}{'':>20}{m:>8.0f}ms{'':>8}  {runs} {verdict}")
            continue
        rng = f"{lo:.0f}–{hi:.0f} ms"
        print(f"{name:17}{model:12}{p:>9.0f}ms{rng:>20}{m:>8.0f}ms{err*100:>+7.0f}%  {runs} {verdict}{extra}")
    total = len(rows)
    print(f"\n{total - len(misses)} of {total} within ±{TOLERANCE*100:.0f} % or inside the range")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
