NAME="memcached -t 2"
LOAD="8 connections doing set/get (100 B values) for 3 s from another process"
EXPECT_MODEL=async
EXPECT_WARN=""
WHY="each worker thread runs a libevent loop that never blocks; the load is light for 2 cores: keep the event loops"
setup_case() { command -v memcached >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq memcached); }
run_case() {
  record memcached -t 2 -p 11311 -U 0 -u root -l 127.0.0.1 &
  local rec=$!
  python3 "$HERE/programs/kv_load.py" 11311 3
  # `record` runs in a subshell: stop memcached itself (it exits on SIGTERM), then wait.
  pkill -TERM -x memcached; wait "$rec"
}
