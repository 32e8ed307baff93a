#!/usr/bin/env python3
"""make whatif — predicted vs measured wall time for every sample and every model it offers.

For each sample: record it once under its default model (CCTRACE_OUTPUT), take the what-if
table from `cctrace report --format json`, then run it untraced with `--model X` for every model
it offers, RUNS times each, and compare the median of the printed `wall_ms=` with the prediction.
The expected results are written here, before any run: every prediction within ±25 % of the
measured median or inside its printed range.

With --python: the Python programs in realworld/whatif/ (the same work under several models),
recorded by `cctrace record` and by viztracer (where viztracer can run it), the predictions
compared with untraced runs. Python's start-up is part of the trace's window, so for them the
measured figure is the whole process (start to exit), and the speedup (× vs the default model,
both untraced) is compared as well — viztracer slows the traced run, which the speedup is immune
to.

Usage: scripts/whatif.py [--runs N] [--bin DIR] [--python] [SAMPLE...]
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, time

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

# program → (default model, models offered, recorders). Expected: within ±25 %, written before.
PYTHON = {
    "wi_json_cpu.py": ("threads", ["sequential", "threads", "processes"], ["record", "viztracer"]),
    "wi_mixed.py": ("threads", ["sequential", "threads", "processes", "async"], ["record", "viztracer"]),
    # viztracer waits for the untraced server child it cannot follow: record only.
    "wi_http_io.py": ("sequential", ["sequential", "threads", "async"], ["record"]),
}


def process_ms(argv, env=None):
    t = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0 or "wall_ms=" not in out.stdout:
        raise RuntimeError(f"{argv}: exit {out.returncode}: {out.stderr.strip()[:200]}")
    return (time.monotonic() - t) * 1000


def python_main(a, cctrace):
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "realworld", "whatif")
    tmp = tempfile.mkdtemp(prefix="cctrace-whatif-py-")
    misses, total = [], 0
    print(f"{'program':15}{'recorder':10}{'model':12}{'predicted':>11}{'measured':>10}{'error':>8}"
          f"{'× pred':>8}{'× meas':>8}  verdict")
    for prog, (default, offered, recorders) in PYTHON.items():
        path = os.path.join(here, prog)
        measured = {}
        for model in offered:
            measured[model] = statistics.median(
                process_ms([sys.executable, path, "--model", model]) for _ in range(a.runs))
        for rec in recorders:
            trace = os.path.join(tmp, f"{prog}.{rec}.json")
            if rec == "record":
                argv = [cctrace, "record", "-o", trace, "--", sys.executable, path, "--model", default]
            else:
                argv = ["viztracer", "--quiet", "-o", trace, path, "--model", default]
            subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp)
            rep = subprocess.run([cctrace, "report", "--format", "json", trace], capture_output=True, text=True)
            if rep.returncode != 0:
                print(f"{prog}: {rec}: report failed: {rep.stderr.strip()}")
                misses.append((prog, rec))
                continue
            rows = {r["model"]: r for r in json.loads(rep.stdout)["recommendation"].get("what_if", [])}
            now = rows.get(default)
            for model in offered:
                if model == default:
                    continue
                total += 1
                row = rows.get(model)
                if row is None or now is None:
                    print(f"{prog:15}{rec:10}{model:12}{'—':>11}{measured[model]:>8.0f}ms  no prediction")
                    misses.append((prog, rec, model))
                    continue
                pred_x = now["predicted_ms"] / row["predicted_ms"]
                meas_x = measured[default] / measured[model]
                err = (row["predicted_ms"] - measured[model]) / measured[model]
                xerr = (pred_x - meas_x) / meas_x
                ok = abs(err) <= TOLERANCE or abs(xerr) <= TOLERANCE
                if not ok:
                    misses.append((prog, rec, model))
                print(f"{prog:15}{rec:10}{model:12}{row['predicted_ms']:>9.0f}ms{measured[model]:>8.0f}ms"
                      f"{err*100:>+7.0f}%{pred_x:>7.2f}×{meas_x:>7.2f}×  {'ok' if ok else 'MISS'}")
    print(f"\n{total - len(misses)} of {total} within ±{TOLERANCE*100:.0f} % (time or speedup)")
    return 1 if misses else 0


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
    ap.add_argument("--python", action="store_true")
    ap.add_argument("samples", nargs="*")
    a = ap.parse_args()
    if a.python:
        return python_main(a, os.path.abspath(os.path.join(a.bin, "cctrace")))
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
