// cpu-threads — CPU work (4 workers × 40 items × 5 ms) on 4 threads with nothing shared. Swift
// has no global interpreter lock, so the threads run on every core. `cctrace report` should
// say: keep the threads.
// `--model sequential|threads|processes` runs the same items on one thread, on 4 threads (the
// default) or in 4 child processes, and prints the wall time (`make whatif` compares it with
// the report's what-if predictions).
// Run: CCTRACE_OUTPUT=out/cpu-threads.trace.json swift run -c release cpu-threads
import CCTrace
import SampleSupport

/// One item of work: 5 ms of CPU, nothing shared.
@Sendable func compute(item: UInt64) -> UInt64 {
    CCTrace.withSpan("compute") { burnCPU(milliseconds: 5, seed: item) }
}

func main() throws {
    if let fds = childChannelDescriptors() {
        return try serveItems(readFD: fds.readFD, writeFD: fds.writeFD, work: compute)
    }
    CCTrace.setThreadName("main")
    let model = SampleModel.fromArguments(default: .threads, offered: [.sequential, .threads, .processes])
    let start = monotonicNanoseconds()
    let acc = try runItems(model: model, workers: 4, itemsPerWorker: 40, work: compute)
    printWallTime(since: start, model: model)
    print("cpu-threads: 4 workers × 40 items done (\(acc % 10))")
}

try main()
