// cpu-global-lock — CPU work over 4 threads that all take one global lock for their work: a
// global interpreter lock in miniature. The threads exist, but only one computes at a time.
// `cctrace report` should find `cpu-serialized` and recommend a process pool.
// Run: CCTRACE_OUTPUT=out/cpu-global-lock.trace.json swift run -c release cpu-global-lock
import CCTrace
import SampleSupport

/// The interpreter: every bytecode runs under its lock.
let interpreterLock = TracedLock(name: "interpreter")

/// One item of work: "interpret" 5 ms of CPU under the global lock.
func interpret(item: Int) -> UInt64 {
    CCTrace.withSpan("interpret") {
        interpreterLock.withLock { burnCPU(milliseconds: 5, seed: UInt64(item)) }
    }
}

func runWorker(_ index: Int) {
    var acc: UInt64 = 0
    for item in 0..<40 { acc ^= interpret(item: index * 1000 + item) }
    if acc == 42 { print("unlikely") }
}

func main() {
    CCTrace.setThreadName("main")
    let workers = (0..<4).map { i in SampleThread(name: "worker-\(i)") { runWorker(i) } }
    for w in workers { w.join() }
    print("cpu-global-lock: 4 threads × 40 items done")
}

main()
