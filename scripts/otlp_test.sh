#!/usr/bin/env bash
# make otlp-test: `cctrace export --otlp` on real traces — two processes instrumented only with
# swift-distributed-tracing (cctrace-tracing-demo), a sample with child processes and IPC
# flows, a sample with findings — each checked against the official OpenTelemetry protobuf
# schema (scripts/otlp_check.py), then one posted in small batches to a local OTLP/HTTP
# receiver built on that schema (scripts/otlp_receiver.py).
set -euo pipefail
BIN=${1:-.build/release}
OUT=${2:-out}/otlp
python3 -c "import opentelemetry.proto" 2>/dev/null || pip install -q opentelemetry-proto
rm -rf "$OUT" && mkdir -p "$OUT/demo"

CCTRACE_OUTPUT="$OUT/demo/server.json" "$BIN/cctrace-tracing-demo" server "$OUT/port" 20 >/dev/null &
server=$!
for _ in $(seq 100); do [ -s "$OUT/port" ] && break; sleep 0.05; done
CCTRACE_OUTPUT="$OUT/demo/client.json" "$BIN/cctrace-tracing-demo" client "$(cat "$OUT/port")" 20
wait $server
rm -f "$OUT/port"

CCTRACE_OUTPUT="$OUT/cpu-processes.json" "$BIN/cpu-processes" >/dev/null
CCTRACE_OUTPUT="$OUT/blocked-loop.json" "$BIN/blocked-loop" >/dev/null

for t in demo cpu-processes.json blocked-loop.json; do
  name=${t%.json}
  "$BIN/cctrace" export --otlp "$OUT/$name.otlp.json" "$OUT/$t"
  python3 scripts/otlp_check.py "$OUT/$name.otlp.json" "$OUT/$t" | tee "$OUT/$name.check.json"
done
# The demo's server spans are children of its client spans, across the processes.
python3 - "$OUT/demo.otlp.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
spans = [s for r in d["resourceSpans"] for ss in r["scopeSpans"] for s in ss["spans"]]
clients = {s["spanId"]: s for s in spans if s["kind"] == 3}
servers = [s for s in spans if s["kind"] == 2]
linked = [s for s in servers if s.get("parentSpanId") in clients and clients[s["parentSpanId"]]["traceId"] == s["traceId"]]
print(json.dumps({"client_spans": len(clients), "server_spans": len(servers), "linked": len(linked)}))
sys.exit(0 if len(servers) == 20 and len(linked) == 20 else 1)
PY
# The blocked loop's finding is an event on its evidence.
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); ev=[e for r in d["resourceSpans"] for ss in r["scopeSpans"] for s in ss["spans"] for e in s.get("events",[]) if e["name"]=="cctrace.finding"]; print(json.dumps({"finding_events": len(ev)})); sys.exit(0 if any(a["value"].get("stringValue")=="blocked-event-loop" for e in ev for a in e["attributes"]) else 1)' "$OUT/blocked-loop.otlp.json"

# Posted in batches of at most 64 KiB to a receiver that parses each with the schema.
python3 scripts/otlp_receiver.py "$OUT/receiver.port" "$OUT/receiver.json" &
receiver=$!
trap 'kill $receiver 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$OUT/receiver.port" ] && break; sleep 0.05; done
"$BIN/cctrace" export --otlp-endpoint "http://127.0.0.1:$(cat "$OUT/receiver.port")" --batch-bytes 65536 "$OUT/cpu-processes.json"
python3 - "$OUT/receiver.json" "$OUT/cpu-processes.check.json" <<'PY'
import json, sys
got, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print(json.dumps({"receiver": got, "expected_spans": want["spans"]}))
sys.exit(0 if got["spans"] == want["spans"] and got["rejected"] == 0 and got["requests"] > 1 and got["largest_body"] <= 65536 else 1)
PY
echo "otlp-test: ok"
