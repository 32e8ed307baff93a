NAME="ThreadingHTTPServer, CPU-heavy handler"
LOAD="8 clients for 3 s; each request computes ~5 ms of pure-Python arithmetic"
EXPECT_MODEL=processes
EXPECT_WARN="cpu-serialized"
WHY="a thread per connection, but the handlers compute in Python: the GIL runs one at a time; a process per core (gunicorn-style workers) scales"
run_case() {
  mkfifo "$WORK/http.stdin" 2>/dev/null || true
  record python3 "$HERE/programs/http_server.py" 18767 cpu < "$WORK/http.stdin" &
  local rec=$!
  exec 7>"$WORK/http.stdin"
  python3 "$HERE/programs/http_load.py" 18767 3
  exec 7>&-
  wait "$rec"
}
