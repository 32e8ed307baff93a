#!/usr/bin/env python3
"""A local OTLP/HTTP receiver built on the official OpenTelemetry protobuf schema: every
POST /v1/traces body (JSON) is parsed as an ExportTraceServiceRequest; a body that does not
parse is answered 400. It writes its running totals (requests, spans, largest body, rejected)
to STATUS.json after each request.

usage: otlp_receiver.py PORT_FILE STATUS.json     (listens on 127.0.0.1, a free port)"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from otlp_json import parse  # noqa: E402 — the OTLP/JSON reading of the official schema

totals = {"requests": 0, "spans": 0, "largest_body": 0, "rejected": 0}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        ok = self.path == "/v1/traces" and self.headers.get("Content-Type", "").startswith("application/json")
        try:
            request = parse(body.decode("utf-8"))
        except Exception:  # noqa: BLE001 — any parse failure is a rejected request
            ok = False
        if ok:
            totals["requests"] += 1
            totals["spans"] += sum(len(ss.spans) for r in request.resource_spans for ss in r.scope_spans)
            totals["largest_body"] = max(totals["largest_body"], length)
        else:
            totals["rejected"] += 1
        with open(sys.argv[2], "w") as f:
            json.dump(totals, f)
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
