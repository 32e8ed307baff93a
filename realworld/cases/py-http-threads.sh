NAME="ThreadingHTTPServer"
LOAD="8 clients for 3 s; each request waits 20 ms for a backend, little CPU"
EXPECT_MODEL=threads
EXPECT_WARN=""
WHY="thread per connection, mostly waiting 20 ms on the backend, 8 in flight: a small thread pool is right, keep"
run_case() {
  mkfifo "$WORK/http.stdin" 2>/dev/null || true
  record python3 "$HERE/programs/http_server.py" 18766 < "$WORK/http.stdin" &
  local rec=$!
  exec 7>"$WORK/http.stdin"
  python3 "$HERE/programs/http_load.py" 18766 3
  exec 7>&-
  wait "$rec"
}
