// lock-contention — 4 threads that each hold one cache lock while doing slow work (a 4 ms
// blocking refresh from "disk"), so the others queue behind it. `cctrace report` should find
// `lock-contention` on lock 'cache', with this file's functions in the waiters' stack.
// `--model sequential|threads` runs the same 4 × 30 requests on one thread or on 4 threads (the
// default), and prints the wall time (`make whatif`).
// Run: CCTRACE_OUTPUT=out/lock-contention.trace.json swift run -c release lock-contention
import CCTrace
import SampleSupport

#if canImport(Glibc)
    import Glibc
#endif

let cache = TracedMutex<[Int: UInt64]>([:], name: "cache")

/// Refreshes an entry while holding the cache lock: the slow part (a blocking 4 ms read) is
/// inside the critical section — the bug this sample shows.
@inline(never)
func refreshEntry(_ key: Int) -> UInt64 {
    cache.withLock { table in
        usleep(4_000)
        let value = mix(UInt64(key), rounds: 1_000)
        table[key] = value
        return value
    }
}

@inline(never)
func handleRequest(_ key: Int) -> UInt64 {
    CCTrace.withSpan("handleRequest") { refreshEntry(key) }
}

func runWorker(_ index: Int) {
    var acc: UInt64 = 0
    for request in 0..<30 { acc ^= handleRequest(index * 100 + request % 7) }
    if acc == 42 { print("unlikely") }
}

func main() {
    CCTrace.setThreadName("main")
    let model = SampleModel.fromArguments(default: .threads, offered: [.sequential, .threads])
    let start = monotonicNanoseconds()
    if model == .sequential {
        for i in 0..<4 { runWorker(i) }
    } else {
        let workers = (0..<4).map { i in SampleThread(name: "worker-\(i)") { runWorker(i) } }
        for w in workers { w.join() }
    }
    printWallTime(since: start, model: model)
    print("lock-contention: 4 threads × 30 requests done")
}

main()
