#!/usr/bin/env python3
"""End to end in headless Chromium: `cctrace view TRACE --no-open` serves the viewer; the page
loads with no console error, the recommendation and findings are listed, clicking a finding
selects and highlights its evidence slice; a hostile trace's names render as text.

usage: e2e.py CCTRACE_BINARY TRACE [--hostile HOSTILE_TRACE] [--screenshot OUT.png] [--html]
             [--compare OTHER_TRACE] [--on-demand]
(--html also writes TRACE's self-contained page with `cctrace view --html` and opens it from
file://; --compare opens TRACE and OTHER_TRACE together, with their diff; --on-demand checks
that TRACE served with its slices on demand shows what it shows served whole)
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


# What the page shows of TRACE, the same way in both modes: the slices drawn whole at two views,
# the range statistics and slice flame graph of the whole trace, a search's matches.
SNAPSHOT = """(async () => {
    const s = window.cctraceViewer, t = s.timeline, d = s.data.duration;
    const settle = async () => { for (let k = 0; k < 200 && t.asked; k++) await new Promise((r) => setTimeout(r, 25)); t.render(); };
    const views = [];
    let merged = 0;
    for (const [a, b] of [[0, d], [d * 0.4, d * 0.43], [d * 0.1, d * 0.102], [d * 0.7, d * 0.7003], [d * 0.25, d * 0.5]]) {
        t.t0 = a; t.t1 = b; t.render(); await settle();
        views.push([...t.drawn].sort((x, y) => x - y));
        if (t.window && t.window.merged) merged += t.window.merged.reduce((x, y) => x + y, 0);
    }
    await s.showRange(0, d);
    if (!document.getElementById('flame-panel').hidden) s.toggleFlame();
    s.toggleFlame();
    document.getElementById('flame-source').value = 'slices';
    document.getElementById('flame-source').dispatchEvent(new Event('change'));
    for (let k = 0; k < 400 && document.body.dataset.flame === '0'; k++) await new Promise((r) => setTimeout(r, 25));
    const flame = Number(document.body.dataset.flame || 0);
    s.toggleFlame();
    await s.runSearch('a');
    return { views, merged, range: s.rangeStats, flame, matches: s.matches.slice(0, 10000) };
})()"""


def dense_trace():
    """A synthetic trace of 60,000 slices on 4 threads, nested 3 deep, most narrower than a
    pixel at the full view, with lock waits: deterministic (seeded)."""
    import random
    import tempfile
    rng = random.Random(7)
    events = []
    for tid in range(1, 5):
        events.append({"ph": "M", "name": "thread_name", "pid": 1, "tid": tid, "args": {"name": f"worker-{tid}"}})
        t = 0.0
        for _ in range(5000):
            outer = rng.uniform(5, 400)
            events.append({"ph": "X", "name": rng.choice(["parse", "render", "query"]), "cat": "app", "pid": 1, "tid": tid, "ts": round(t, 3), "dur": round(outer, 3)})
            inner = t + outer * 0.1
            for k in range(2):
                d = outer * rng.uniform(0.1, 0.35)
                name = "lock wait" if k == 1 and rng.random() < 0.3 else rng.choice(["hash", "alloc", "copy"])
                cat = "cctrace.lock" if name == "lock wait" else "app"
                events.append({"ph": "X", "name": name, "cat": cat, "pid": 1, "tid": tid, "ts": round(inner, 3), "dur": round(d, 3),
                               **({"args": {"lock": "cache"}} if cat == "cctrace.lock" else {})})
                events.append({"ph": "X", "name": "leaf", "cat": "app", "pid": 1, "tid": tid, "ts": round(inner + d * 0.2, 3), "dur": round(d * 0.5, 3)})
                inner += d * 1.1
            t += outer + rng.uniform(0, 50)
    path = os.path.join(tempfile.mkdtemp(prefix="cctrace-dense-"), "dense.json")
    with open(path, "w") as f:
        json.dump({"traceEvents": events}, f)
    return path


def check_on_demand(binary, trace, result, prefix="", check_finding=True):
    """TRACE served whole and with --on-demand (slices sent as the page asks, at full detail
    and at level of detail) shows the same: the slices drawn whole at two views, the range
    statistics, the slice flame graph, search matches, a finding's slice and its details."""
    shots = {}
    for mode, extra in [("whole", ()), ("on_demand", ("--on-demand",)), ("detail", ("--on-demand",))]:
        server, url = serve(binary, trace, extra)
        browser = Browser()
        try:
            browser.open(url)
            browser.wait_for("document.body.dataset.loaded === 'true'")
            if mode == "detail":
                # Level of detail: no window is full, merged runs stand for narrow slices.
                browser.wait_for("window.cctraceViewer.timeline.window !== null", timeout=20)
                browser.evaluate("(() => { const t = window.cctraceViewer.timeline; t.windowFullLimit = 0; t.window = null; t.asked = null; t.render(); return true; })()")
                browser.wait_for("window.cctraceViewer.timeline.window && !window.cctraceViewer.timeline.window.full", timeout=20)
            elif mode == "on_demand":
                browser.wait_for("window.cctraceViewer.timeline.window !== null", timeout=20)
            shots[mode] = browser.evaluate(SNAPSHOT)
            shots[mode]["on_demand"] = browser.evaluate("window.cctraceViewer.data.onDemand === true && window.cctraceViewer.data.doc.slices.start.length === 0")
            if mode != "whole" and check_finding:
                index = browser.evaluate("""window.cctraceViewer.data.report.findings.findIndex((x) => x.evidence.some((e) => typeof e.slice === 'number'))""")
                browser.evaluate(f"document.querySelectorAll('#finding-list li')[{index}].click()")
                expected = browser.evaluate(f"window.cctraceViewer.data.report.findings[{index}].evidence.find((e) => typeof e.slice === 'number').slice")
                browser.wait_for("document.getElementById('details-body').textContent.includes('category')", timeout=10)
                shots[mode]["finding"] = browser.evaluate("Number(document.body.dataset.selected)") == expected
            shots[mode]["errors"] = browser.errors()
        finally:
            browser.close()
            server.kill()
    # Malformed window requests are refused, not guessed at.
    server, url = serve(binary, trace, ("--on-demand",))
    try:
        statuses = []
        for query in ["window?t0=x&t1=1&npp=1", "window?t0=0&t1=1&npp=0", "window?t0=0&t1=1&npp=1&threads=5-1",
                      "window?t0=2&t1=1&npp=1", "range?t0=2&t1=1", "range?t0=0"]:
            try:
                with urllib.request.urlopen(f"{url}data/{query}") as r:
                    statuses.append(r.status)
            except urllib.error.HTTPError as e:
                statuses.append(e.code)
        result["checks"][f"{prefix}bad_window_requests_refused"] = statuses == [400] * 6
    finally:
        server.kill()
    whole = shots["whole"]
    for mode in ("on_demand", "detail"):
        got = shots[mode]
        mode = prefix + mode
        result["checks"][f"{mode}_draws_the_same"] = got["on_demand"] and got["views"] == whole["views"] and sum(map(len, whole["views"])) > 0
        result["checks"][f"{mode}_range_flame_search_same"] = (got["range"] == whole["range"] and got["flame"] == whole["flame"] > 0
                                                               and got["matches"] == whole["matches"] and len(whole["matches"]) > 0)
        if check_finding:
            result["checks"][f"{mode}_finding_and_details"] = got["finding"]
        result["checks"][f"{mode}_no_errors"] = not got["errors"]
    result["checks"][f"{prefix}detail_merges_narrow_slices"] = shots["detail"]["merged"] > 0
    result[f"{prefix}on_demand"] = {m: {"drawn": [len(v) for v in x["views"]], "merged": x["merged"], "matches": len(x["matches"]),
                               "errors": x["errors"]} for m, x in shots.items()}


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
    if "--on-demand" in args:
        check_on_demand(binary, trace, result)
        check_on_demand(binary, dense_trace(), result, prefix="dense_", check_finding=False)
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
