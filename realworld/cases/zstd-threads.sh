NAME="zstd -T2"
LOAD="compresses 96 MiB of text at level 9 with 2 worker threads"
EXPECT_MODEL=threads
EXPECT_WARN=""
WHY="zstd's worker threads compress independent blocks in parallel on both cores: threads fit, keep"
setup_case() { command -v zstd >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd) >/dev/null 2>&1; [ -s "$WORK/data.txt" ] || "$HERE/programs/make-data.sh" 96 "$WORK/data.txt"; }
run_case() { record zstd -T2 -9 -q -f "$WORK/data.txt" -o "$WORK/data.zst"; }
