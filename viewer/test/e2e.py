#!/usr/bin/env python3
"""End to end in headless Chromium: `cctrace view TRACE --no-open` serves the viewer; the page
loads with no console error, the recommendation and findings are listed, clicking a finding
selects and highlights its evidence slice; a hostile trace's names render as text.

usage: e2e.py CCTRACE_BINARY TRACE [--hostile HOSTILE_TRACE] [--screenshot OUT.png] [--html]
             [--compare OTHER_TRACE]
(--html also writes TRACE's self-contained page with `cctrace view --html` and opens it from
file://; --compare opens TRACE and OTHER_TRACE together, with their diff)
Also checked: each thread's CPU band replaces the per-thread CPU counters, a selected range
lists its threads, top slices and lock waits, the flame graph draws and marks what a frame
picks, folding a thread shortens the layout.
Prints one JSON line; exits 0 when every check passed."""
import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import Browser  # noqa: E402


def serve(binary, trace, extra=()):
    process = subprocess.Popen([binary, "view", "--no-open", *extra, trace], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise RuntimeError(f"cctrace view printed {line!r}")
    return process, line.split()[-1]


def check_server(url):
    """The server refuses requests without the token and anything outside the viewer."""
    base = url.rsplit("/", 2)[0]
    token_path = url.rstrip("/").rsplit("/", 1)[1]
    statuses = {}
    for name, path in [("no token", "/index.html"), ("wrong token", "/0123456789abcdef/index.html"),
                       ("traversal", f"/{token_path}/../../../../etc/passwd"),
                       ("encoded traversal", f"/{token_path}/..%2f..%2fetc%2fpasswd"),
                       ("source file", f"/{token_path}/test/e2e.py"), ("model", f"/{token_path}/data/model.json")]:
        try:
            with urllib.request.urlopen(base + path) as r:
                statuses[name] = r.status
        except urllib.error.HTTPError as e:
            statuses[name] = e.code
    ok = statuses.pop("model") == 200 and all(s in (403, 404) for s in statuses.values())
    return ok, statuses


def main():
    args = sys.argv[1:]
    binary, trace = args[0], args[1]
    hostile = args[args.index("--hostile") + 1] if "--hostile" in args else None
    shot = args[args.index("--screenshot") + 1] if "--screenshot" in args else None
    other = args[args.index("--compare") + 1] if "--compare" in args else None
    result = {"checks": {}}
    server, url = serve(binary, trace)
    browser = Browser()
    try:
        ok, statuses = check_server(url)
        result["checks"]["server_refuses_outside_requests"] = ok
        result["statuses"] = statuses
        browser.open(url)
        result["checks"]["loaded"] = browser.wait_for("document.body.dataset.loaded === 'true'")
        result["model"] = browser.evaluate("document.querySelector('#recommendation .model')?.textContent")
        count = browser.evaluate("document.querySelectorAll('#finding-list li').length")
        result["checks"]["findings_listed"] = (count or 0) > 0
        # Click the first finding with evidence on a slice.
        index = browser.evaluate("""(() => {
            const f = window.cctraceViewer.data.report.findings;
            return f.findIndex((x) => x.evidence.some((e) => typeof e.slice === 'number'));
        })()""")
        if index is not None and index >= 0:
            browser.evaluate(f"document.querySelectorAll('#finding-list li')[{index}].click()")
            browser.wait_for("document.body.dataset.selected !== undefined", timeout=10)
            expected = browser.evaluate(f"window.cctraceViewer.data.report.findings[{index}].evidence.find((e) => typeof e.slice === 'number').slice")
            selected = browser.evaluate("Number(document.body.dataset.selected)")
            highlighted = browser.evaluate("window.cctraceViewer.timeline.highlight.size")
            details = browser.evaluate("document.getElementById('details-body').textContent")
            result["checks"]["finding_selects_its_slice"] = selected == expected and highlighted > 0 and bool(details)
            result["selected"] = selected
        else:
            result["checks"]["finding_selects_its_slice"] = False
        # CPU readings are bands on their threads, not counters.
        result["checks"]["cpu_bands_not_counters"] = browser.evaluate("""(() => {
            const d = window.cctraceViewer.data;
            return d.threads.some((t) => t.cpu) && !d.counters.some((c) => /^cpu \\d+/.test(c.name));
        })()""")
        # Folding the deepest thread shortens the layout; unfolding restores it.
        result["checks"]["thread_folds"] = browser.evaluate("""(() => {
            const t = window.cctraceViewer.timeline;
            const deep = t.layout.tracks.filter((x) => x.type === 'thread' && x.rows > 1)[0];
            if (!deep) return false;  // the e2e trace (blocked-loop) has nested spans
            const h = t.layout.height;
            t.toggleThread(deep.thread);
            const folded = t.layout.height;
            t.toggleThread(deep.thread);
            return folded < h && t.layout.height === h;
        })()""")
        # A range: its panel lists threads with states, top slices by self time, lock waits.
        browser.evaluate("(() => { const s = window.cctraceViewer; s.showRange(0, s.data.duration); return true; })()")
        panel = browser.evaluate("document.getElementById('details-body').textContent") or ""
        threads_listed = browser.evaluate("window.cctraceViewer.rangeStats.threads.length")
        result["checks"]["range_panel"] = ("Top slices by self time" in panel and "Lock waits" in panel
                                           and (threads_listed or 0) > 0)
        # The flame graph (slice self time when there are no samples) draws; a frame marks slices.
        browser.evaluate("(() => { window.cctraceViewer.toggleFlame(); return true; })()")
        drawn = browser.evaluate("Number(document.body.dataset.flame || 0)")
        browser.evaluate("(() => { window.cctraceViewer.pickFlame(4, 18 + 5); return true; })()")
        picked = browser.evaluate("Number(document.body.dataset.flamePicked || 0)")
        result["checks"]["flame_graph"] = drawn > 0 and picked > 0
        result["flame"] = {"total": drawn, "picked": picked}
        if shot:
            browser.wait_for("true")
            browser.screenshot(shot)
        browser.evaluate("(() => { window.cctraceViewer.toggleFlame(); return true; })()")
        # A raw Chrome trace handed to the page (as a drop does) is parsed in the worker.
        browser.evaluate("""window.cctraceViewer.openText(JSON.stringify([
            {ph: 'X', name: 'dropped-slice', pid: 5, tid: 6, ts: 0, dur: 10},
            {ph: 'B', name: 'dropped-outer', pid: 5, tid: 6, ts: 20}, {ph: 'E', pid: 5, tid: 6, ts: 40}]),
            'dropped.json'); true""")
        result["checks"]["dropped_file_opens"] = browser.wait_for(
            "document.getElementById('trace-name').textContent === 'dropped.json' && window.cctraceViewer.data.count === 2",
            timeout=20)
        result["errors"] = browser.errors()
        result["checks"]["no_console_errors"] = not result["errors"]
    finally:
        browser.close()
        server.kill()
    if hostile:
        server, url = serve(binary, hostile)
        browser = Browser()
        try:
            browser.open(url)
            browser.wait_for("document.body.dataset.loaded === 'true'")
            browser.evaluate("window.cctraceViewer.timeline.render(); true")
            text = browser.evaluate("document.body.innerText")
            images = browser.evaluate("document.querySelectorAll('img, iframe, object, embed').length")
            # The names are in the page as text (the lock's name reaches the findings list).
            result["checks"]["hostile_names_render_as_text"] = images == 0 and "<b onclick=alert(5)>cache</b>" in (text or "")
            # Select a hostile slice: its details (name, args) are text too.
            browser.evaluate("document.querySelectorAll('#finding-list li')[0].click()")
            browser.wait_for("document.getElementById('details-body').textContent.includes('alert')", timeout=10)
            details_html = browser.evaluate("document.getElementById('details-body').innerHTML")
            result["checks"]["hostile_details_escaped"] = "<img" not in details_html and "&lt;" in details_html
            result["checks"]["hostile_no_dialog_or_error"] = not browser.errors()
            result["hostile_errors"] = browser.errors()
        finally:
            browser.close()
            server.kill()
    if "--html" in args:
        import tempfile
        page = os.path.join(tempfile.mkdtemp(prefix="cctrace-html-"), "trace.html")
        subprocess.run([binary, "view", "--html", page, trace], check=True, stdout=subprocess.DEVNULL)
        browser = Browser()
        try:
            browser.open("file://" + page)
            result["checks"]["html_file_loads"] = browser.wait_for("document.body.dataset.loaded === 'true'")
            # The self-contained file shows a slice's args without a server.
            first = browser.evaluate("Number(Object.keys(window.cctraceViewer.data.args || {})[0] ?? -1)")
            result["checks"]["html_file_has_args"] = first is not None and first >= 0 and browser.evaluate(
                f"(async () => {{ await window.cctraceViewer.showDetails({first}); "
                f"return document.getElementById('details-body').textContent.includes('args:'); }})()")
            result["checks"]["html_file_no_errors"] = not browser.errors()
            result["html_errors"] = browser.errors()
        finally:
            browser.close()
    if other:
        server, url = serve(binary, trace, ("--compare", other))
        browser = Browser()
        try:
            browser.open(url)
            browser.wait_for("document.body.dataset.loaded === 'true'")
            verdict = browser.evaluate("document.querySelector('#diff .verdict')?.textContent") or ""
            sides = browser.evaluate("[...new Set(window.cctraceViewer.data.processes.map((p) => p.side))].join(',')")
            result["compare"] = {"verdict": verdict, "sides": sides}
            result["checks"]["compare_opens_both_with_diff"] = verdict.startswith("after vs before") and sides == "before,after"
            result["checks"]["compare_no_errors"] = not browser.errors()
        finally:
            browser.close()
            server.kill()
    result["ok"] = all(result["checks"].values())
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
