#!/usr/bin/env python3
"""Viewer benchmark in headless Chromium: serves TRACE with `cctrace view --no-open` and prints
the figures, one `name: value` per line:

  server_ready_s            cctrace view: import + analysis + document, until the URL is printed
  document_mb               the JSON document the viewer downloads
  arrival_to_first_view_ms  from the data arriving in the page to the first full view drawn
  frame_ms_mean / _p95 / _max   60 zoom and pan frames, each drawn synchronously
  on_demand                 1 when the slices stay on the server (above 2M slices, or --on-demand)
  first_window_ms           slices on demand: from the page loaded to the first window of slices drawn
  window_ms_mean / _max, window_entries_mean   the windows the zooms and pans asked for (then
                            14 zooms by 2× into the middle, each waiting for its window): from
                            asking to prepared (server + transfer + parse), entries in each

usage: bench.py CCTRACE_BINARY TRACE [--on-demand]   (e.g. ../shared/tools/gen-trace --events 1000000 -o t.json)
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import Browser  # noqa: E402


def main():
    binary, trace = sys.argv[1], sys.argv[2]
    extra = ["--on-demand"] if "--on-demand" in sys.argv[3:] else []
    started = time.time()
    server = subprocess.Popen([binary, "view", "--no-open", *extra, trace], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    ready = time.time() - started
    url = line.split()[-1]
    browser = Browser(width=1600, height=1000)
    try:
        browser.open(url)
        if not browser.wait_for("document.body.dataset.loaded === 'true'", timeout=300):
            sys.exit("the viewer did not load")
        on_demand = browser.evaluate("window.cctraceViewer.data.onDemand === true")
        first_window = None
        if on_demand:
            loaded_at = time.time()
            browser.wait_for("window.cctraceViewer.timeline.window !== null", timeout=120)
            first_window = (time.time() - loaded_at) * 1000
        metrics = browser.evaluate("window.cctraceViewer.metrics")
        frames = sorted(browser.evaluate("window.cctraceViewer.benchPanZoom(60)"))
        if on_demand:
            browser.wait_for("window.cctraceViewer.timeline.asked === null", timeout=120)
            # Zoom into the middle, halving the span 14 times (16384×): each step waits for
            # the window it asks for, if any.
            browser.evaluate("window.cctraceViewer.timeline.reveal(0, window.cctraceViewer.data.duration); true")
            browser.wait_for("window.cctraceViewer.timeline.asked === null", timeout=120)
            for _ in range(14):
                browser.evaluate("window.cctraceViewer.timeline.zoom(0.5); true")
                browser.wait_for("window.cctraceViewer.timeline.asked === null", timeout=120)
            metrics = browser.evaluate("window.cctraceViewer.metrics")
        slices = browser.evaluate("window.cctraceViewer.data.count")
        errors = browser.errors()
    finally:
        browser.close()
        server.kill()
    print(f"slices: {slices}")
    print(f"server_ready_s: {ready:.2f}")
    print(f"document_mb: {metrics['bytes'] / 1e6:.1f}")
    print(f"arrival_to_first_view_ms: {metrics['arrivalToFirstViewMs']:.0f}")
    print(f"frame_ms_mean: {sum(frames) / len(frames):.1f}")
    print(f"frame_ms_p95: {frames[int(len(frames) * 0.95) - 1]:.1f}")
    print(f"frame_ms_max: {frames[-1]:.1f}")
    print(f"on_demand: {1 if on_demand else 0}")
    if on_demand:
        windows = metrics.get("windows") or []
        ms = sorted(w["ms"] for w in windows)
        print(f"first_window_ms: {first_window:.0f}")
        print(f"windows: {len(windows)}")
        if windows:
            print(f"window_ms_mean: {sum(ms) / len(ms):.0f}")
            print(f"window_ms_max: {ms[-1]:.0f}")
            print(f"window_entries_mean: {sum(w['entries'] for w in windows) / len(windows):.0f}")
    print(f"console_errors: {len(errors)}")


if __name__ == "__main__":
    main()
