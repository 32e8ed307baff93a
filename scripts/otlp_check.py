#!/usr/bin/env python3
"""Checks `cctrace export --otlp` output against the official OpenTelemetry protobuf schema
(the `opentelemetry-proto` package): the document parses as an ExportTraceServiceRequest with
no unknown field (OTLP/JSON: hex ids, otlp_json.py), every span has a 32-hex trace id and a 16-hex span id, every parentSpanId
names a span of the export, start ≤ end, and the span count equals the trace's own slices
(X events, B/E pairs and b/e pairs, counted here from the trace files, independently of
cctrace).

usage: otlp_check.py OTLP.json TRACE_FILE_OR_DIR...
Prints one JSON line; exits 0 when every check passed."""
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from otlp_json import parse  # noqa: E402 — the OTLP/JSON reading of the official schema


def spans_of(request):
    return [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]


def trace_files(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                yield os.path.join(p, name)
        else:
            yield p


def expected_spans(paths):
    count = 0
    for path in trace_files(paths):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as f:
            text = f.read()
        try:
            root = json.loads(text)
        except json.JSONDecodeError:
            root = json.loads(text.rstrip().rstrip(",") + "]")
        events = root["traceEvents"] if isinstance(root, dict) else root
        open_b = {}
        for e in events:
            ph = e.get("ph")
            if ph == "X":
                count += 1
            elif ph == "B":
                open_b[(e.get("pid"), e.get("tid"))] = open_b.get((e.get("pid"), e.get("tid")), 0) + 1
            elif ph == "E" and open_b.get((e.get("pid"), e.get("tid")), 0) > 0:
                open_b[(e.get("pid"), e.get("tid"))] -= 1
                count += 1
            elif ph == "b":
                key = (e.get("pid"), e.get("cat"), str(e.get("id")))
                open_b[key] = open_b.get(key, 0) + 1
            elif ph == "e" and open_b.get((e.get("pid"), e.get("cat"), str(e.get("id"))), 0) > 0:
                open_b[(e.get("pid"), e.get("cat"), str(e.get("id")))] -= 1
                count += 1
    return count


def check(request):
    spans = spans_of(request)
    ids = {s.span_id for s in spans}
    problems = []
    for s in spans:
        if len(s.trace_id) != 16 or not any(s.trace_id):
            problems.append(f"bad trace id in {s.name}")
        if len(s.span_id) != 8 or not any(s.span_id):
            problems.append(f"bad span id in {s.name}")
        if s.parent_span_id and s.parent_span_id not in ids:
            problems.append(f"{s.name}: parent {s.parent_span_id.hex()} is not in the export")
        if s.start_time_unix_nano > s.end_time_unix_nano:
            problems.append(f"{s.name}: starts after it ends")
    return spans, problems


def main():
    out, traces = sys.argv[1], sys.argv[2:]
    with open(out) as f:
        request = parse(f.read())
    spans, problems = check(request)
    expected = expected_spans(traces)
    result = {
        "spans": len(spans), "expected": expected, "resources": len(request.resource_spans),
        "with_parent": sum(1 for s in spans if s.parent_span_id),
        "events": sum(len(s.events) for s in spans), "problems": problems[:10],
    }
    result["ok"] = not problems and len(spans) == expected
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
