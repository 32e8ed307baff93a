"""OTLP/JSON → the protobuf message, as the OTLP specification defines it: the standard
protobuf JSON mapping, except that trace and span ids are hex strings (32 and 16 digits), not
base64 (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). The ids are checked
and turned into base64, then `json_format.Parse` (which rejects unknown fields and wrong types)
reads the document into an ExportTraceServiceRequest."""
import base64
import json
import re

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ID_LENGTHS = {"traceId": 32, "spanId": 16, "parentSpanId": 16}
HEX = re.compile(r"^[0-9a-f]*$")


class BadId(ValueError):
    pass


def _ids_to_base64(node, path="$"):
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key in ID_LENGTHS and isinstance(value, str):
                if value == "" and key == "parentSpanId":
                    continue
                if len(value) != ID_LENGTHS[key] or not HEX.match(value):
                    raise BadId(f"{path}.{key}: {value!r} is not {ID_LENGTHS[key]} lowercase hex digits")
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                _ids_to_base64(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _ids_to_base64(value, f"{path}[{i}]")


def parse(text):
    document = json.loads(text)
    _ids_to_base64(document)
    request = ExportTraceServiceRequest()
    json_format.Parse(json.dumps(document), request)
    return request
