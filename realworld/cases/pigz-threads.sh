NAME="pigz -p 2"
LOAD="pigz -p 2 on 96 MiB"
EXPECT_MODEL=threads
EXPECT_WARN=""
WHY="pigz compresses blocks on a thread pool sized to the cores: keep the threads"
setup_case() { command -v pigz >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pigz) >/dev/null 2>&1; [ -s "$WORK/data.txt" ] || "$HERE/programs/make-data.sh" 96 "$WORK/data.txt"; }
run_case() { record pigz -p 2 -k -f "$WORK/data.txt"; }
