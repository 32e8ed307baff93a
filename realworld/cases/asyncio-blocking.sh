NAME="asyncio with a sync call"
LOAD="asyncio TCP server, 8 client connections, 1 request in 10 calls time.sleep(0.15) inside the handler"
EXPECT_MODEL=hybrid
EXPECT_WARN="blocked-event-loop"
WHY="the loop stalls 150 ms at a time in a synchronous call: keep asyncio, move the call to asyncio.to_thread"
run_case() { record python3 "$HERE/programs/asyncio_blocking.py" 18765; }
