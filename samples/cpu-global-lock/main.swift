// cpu-global-lock — CPU work (4 workers × 40 items × 5 ms) over 4 threads that all take one
// global lock for it: a global interpreter lock in miniature. The threads exist, but only one
// computes at a time. `cctrace report` should find `cpu-serialized` and recommend a process
// pool.
// `--model sequential|threads|processes` runs the same items on one thread, on 4 threads (the
// default) or in 4 child processes — each with its own interpreter lock, as CPython's
// processes have — and prints the wall time (`make whatif`).
// Run: CCTRACE_OUTPUT=out/cpu-global-lock.trace.json swift run -c release cpu-global-lock
import CCTrace
import SampleSupport

/// The interpreter: every bytecode runs under its lock (one per process).
let interpreterLock = TracedLock(name: "interpreter")

/// One item of work: "interpret" 5 ms of CPU under the global lock.
@Sendable func interpret(item: UInt64) -> UInt64 {
    CCTrace.withSpan("interpret") {
        interpreterLock.withLock { burnCPU(milliseconds: 5, seed: item) }
    }
}

func main() throws {
    if let fds = childChannelDescriptors() {
        return try serveItems(readFD: fds.readFD, writeFD: fds.writeFD, work: interpret)
    }
    CCTrace.setThreadName("main")
    let model = SampleModel.fromArguments(default: .threads, offered: [.sequential, .threads, .processes])
    let start = monotonicNanoseconds()
    let acc = try runItems(model: model, workers: 4, itemsPerWorker: 40, work: interpret)
    printWallTime(since: start, model: model)
    print("cpu-global-lock: 4 workers × 40 items done (\(acc % 10))")
}

try main()
