NAME="redis-server, a slow Lua script"
LOAD="8 connections SET/GET for 3 s, and one client running a ~200 ms Lua loop every 0.5 s"
EXPECT_MODEL=hybrid
EXPECT_WARN="blocked-event-loop"
WHY="redis runs every command on its one event loop: a 200 ms script stalls every client (a computing stall); long work must leave the loop"
setup_case() { command -v redis-server >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server); }
run_case() {
  record redis-server --port 16391 --bind 127.0.0.1 --save "" --appendonly no --daemonize no &
  local rec=$!
  python3 "$HERE/programs/redis_load.py" 16391 3
  wait "$rec"
}
