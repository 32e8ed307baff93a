#!/usr/bin/env python3
"""`make bench`: every performance figure next to its reference, measured in one run.

  import   cctrace-bench import vs the simdjson On-Demand reference (bench/simdjson_ref.cpp,
           one thread, the fields an importer reads) on the same 1M-event trace
  report   cctrace report --format json vs cctrace-bench import on that trace
  writer   cctrace-bench record (span cost vs the floor of two clock reads, writer events/s,
           bytes per event, sustained rates with drops)
  scale    cctrace report on a 10M-event trace: time, time per million vs the 1M trace, peak RSS

Each timed command runs ROUNDS times, interleaved, and the best time counts (a noisy neighbour
on this shared machine makes figures worse, never better). Usage:
  scripts/bench.py OUT_DIR [--no-10m] [--rounds N]
"""
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build", "release")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def timed(cmd):
    """(wall seconds, peak RSS MB) of cmd, output discarded."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed: {p.stderr.strip()[-400:]}")
    rss_kb = int(p.stderr.strip().splitlines()[-1])
    return wall, rss_kb / 1024


def ensure_trace(path, events):
    if not os.path.exists(path):
        print(f"generating {path} ({events} events)…", flush=True)
        run([os.path.join(ROOT, "..", "shared", "tools", "gen-trace"), "--events", str(events), "-o", path])


def simdjson_reference(out):
    """Builds the simdjson reference (installs libsimdjson-dev when missing)."""
    exe = os.path.join(out, "simdjson-ref")
    src = os.path.join(ROOT, "bench", "simdjson_ref.cpp")
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(src):
        return exe
    if not os.path.exists("/usr/include/simdjson.h"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-get", "install", "-y", "-qq", "libsimdjson-dev"], env=env,
                          capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            run(["apt-get", "install", "-y", "-qq", "libsimdjson-dev"], env=env)
    run(["g++", "-O3", "-march=native", "-std=c++17", "-o", exe, src, "-lsimdjson"])
    return exe


def main():
    args = sys.argv[1:]
    out = args[0] if args else "out"
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
    os.makedirs(out, exist_ok=True)
    trace = os.path.join(out, "gen-1m.json")
    ensure_trace(trace, 1_000_000)
    ref = simdjson_reference(out)
    size_mb = os.path.getsize(trace) / 1e6

    best = {"simdjson": 1e9, "import": 1e9, "report": 1e9}
    rss = {"import": 0, "report": 0}
    for _ in range(rounds):
        best["simdjson"] = min(best["simdjson"], timed([ref, trace])[0])
        w, m = timed([os.path.join(BIN, "cctrace-bench"), "import", trace])
        best["import"] = min(best["import"], w)
        rss["import"] = max(rss["import"], m)
        w, m = timed([os.path.join(BIN, "cctrace"), "report", "--format", "json", trace])
        best["report"] = min(best["report"], w)
        rss["report"] = max(rss["report"], m)
    print(f"trace: {trace} ({size_mb:.0f} MB, 1M events); best of {rounds}, process wall time")
    print(f"simdjson_s: {best['simdjson']:.3f} s   ({size_mb / best['simdjson']:.0f} MB/s)")
    print(f"import_s: {best['import']:.3f} s   ({size_mb / best['import']:.0f} MB/s, peak {rss['import']:.0f} MB)")
    print(f"report_s: {best['report']:.3f} s   (peak {rss['report']:.0f} MB)")
    print(f"import_over_simdjson: {best['import'] / best['simdjson']:.2f} x   (goal <= 1.6)")
    print(f"report_over_import: {best['report'] / best['import']:.2f} x   (goal <= 1.3)")
    sys.stdout.flush()

    print("\nwriter (cctrace-bench record):", flush=True)
    record = run([os.path.join(BIN, "cctrace-bench"), "record"]).stdout
    for line in record.splitlines():
        if re.match(r"(floor_ns|span_ns|span_over_floor|events_per_s_written|bytes_per_event|sustained)", line):
            print("  " + line)
    sys.stdout.flush()

    if "--no-10m" not in args:
        big = os.path.join(out, "gen-10m.json")
        ensure_trace(big, 10_000_000)
        w, m = timed([os.path.join(BIN, "cctrace"), "report", "--format", "json", big])
        print(f"\nscale: {big} ({os.path.getsize(big) / 1e6:.0f} MB, 10M events)")
        print(f"report_10m_s: {w:.2f} s   ({w / best['report']:.1f} x the 1M report; linear is 10)")
        print(f"report_10m_peak_rss_mb: {m:.0f} MB   (goal <= 1536)")


if __name__ == "__main__":
    main()
