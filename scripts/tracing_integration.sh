#!/usr/bin/env bash
# make tracing-integration: two real libraries instrumented with swift-distributed-tracing —
# AsyncHTTPClient (client spans; it injects `traceparent`) and Hummingbird's TracingMiddleware
# (server spans; it extracts the context) — in a program that only bootstraps CCTraceTracer
# (integration/tracing, a package of its own: minutes to build). Server and client run as two
# processes on loopback; their traces must show every library span, the client spans under the
# program's own span, each server span under the client span of its request (across the
# processes), one flow per request, and export to OTLP that the official schema accepts.
set -euo pipefail
OUT=${1:-out}/tracing-integration
REQUESTS=${REQUESTS:-20}
swift build -c release --package-path integration/tracing
BIN=$(swift build -c release --package-path integration/tracing --show-bin-path)
rm -rf "$OUT" && mkdir -p "$OUT/trace"
CCTRACE_OUTPUT="$OUT/trace/server.json" "$BIN/ahc-hummingbird" server "$OUT/port" "$REQUESTS" &
server=$!
for _ in $(seq 200); do [ -s "$OUT/port" ] && break; sleep 0.05; done
CCTRACE_OUTPUT="$OUT/trace/client.json" "$BIN/ahc-hummingbird" client "$(cat "$OUT/port")" "$REQUESTS"
wait $server
rm -f "$OUT/port"
python3 - "$OUT/trace" "$REQUESTS" <<'PY'
import json, os, sys
directory, n = sys.argv[1], int(sys.argv[2])
spans, flows = {}, {"s": {}, "f": {}}
pids = {}
for name in ("client.json", "server.json"):
    events = json.load(open(os.path.join(directory, name)))
    events = events["traceEvents"] if isinstance(events, dict) else events
    begins = {}
    for e in events:
        if e.get("cat") != "cctrace.tracing":
            continue
        if e["ph"] == "b":
            begins[(e["pid"], e["id"])] = e
        elif e["ph"] == "e" and (e["pid"], e["id"]) in begins:
            b = begins.pop((e["pid"], e["id"]))
            spans[b["args"]["span_id"]] = dict(b["args"], name=b["name"], pid=b["pid"], start=b["ts"], end=e["ts"])
        elif e["ph"] in "sf":
            flows[e["ph"]][e["id"]] = e["pid"]
    pids[name] = {s["pid"] for s in spans.values()} - set().union(*[v for k, v in pids.items()]) if pids else {s["pid"] for s in spans.values()}
clients = [s for s in spans.values() if s["span_kind"] == "client"]
servers = [s for s in spans.values() if s["span_kind"] == "server"]
batch = [s for s in spans.values() if s["name"] == "batch"]
linked = [s for s in servers if s.get("remote_parent") and s.get("parent_span_id") in spans
          and spans[s["parent_span_id"]]["span_kind"] == "client" and spans[s["parent_span_id"]]["pid"] != s["pid"]
          and spans[s["parent_span_id"]]["trace_id"] == s["trace_id"]]
under_batch = [c for c in clients if batch and c.get("parent_span_id") == batch[0]["span_id"]]
cross_flows = [i for i, pid in flows["s"].items() if i in flows["f"] and flows["f"][i] != pid]
result = {"client_spans": len(clients), "server_spans": len(servers), "servers_linked_to_clients": len(linked),
          "clients_under_batch": len(under_batch), "cross_process_flows": len(cross_flows),
          "client_names": sorted({c["name"] for c in clients}), "server_names": sorted({s["name"] for s in servers})}
print(json.dumps(result))
ok = len(clients) == n and len(servers) == n and len(linked) == n and len(under_batch) == n and len(cross_flows) == n
sys.exit(0 if ok else 1)
PY
.build/release/cctrace report "$OUT/trace" > "$OUT/report.txt"
grep -A4 "cross-host-requests" "$OUT/report.txt" | head -8
python3 -c "import opentelemetry.proto" 2>/dev/null || pip install -q opentelemetry-proto
.build/release/cctrace export --otlp "$OUT/otlp.json" "$OUT/trace"
python3 scripts/otlp_check.py "$OUT/otlp.json" "$OUT/trace"
echo "tracing-integration: ok"
