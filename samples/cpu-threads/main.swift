// cpu-threads — the same CPU work as cpu-global-lock over 4 threads with no shared lock. Swift
// has no global interpreter lock, so the threads run on every core. `cctrace report` should
// say: keep the threads.
// Run: CCTRACE_OUTPUT=out/cpu-threads.trace.json swift run -c release cpu-threads
import CCTrace
import SampleSupport

/// One item of work: 5 ms of CPU, nothing shared.
func compute(item: Int) -> UInt64 {
    CCTrace.withSpan("compute") { burnCPU(milliseconds: 5, seed: UInt64(item)) }
}

func runWorker(_ index: Int) {
    var acc: UInt64 = 0
    for item in 0..<40 { acc ^= compute(item: index * 1000 + item) }
    if acc == 42 { print("unlikely") }
}

func main() {
    CCTrace.setThreadName("main")
    let workers = (0..<4).map { i in SampleThread(name: "worker-\(i)") { runWorker(i) } }
    for w in workers { w.join() }
    print("cpu-threads: 4 threads × 40 items done")
}

main()
