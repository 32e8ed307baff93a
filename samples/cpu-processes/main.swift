// cpu-processes — the CPU work of cpu-threads (4 workers × 40 items × 5 ms) split over 4 child
// processes (copies of this program) that each get small job messages over a pipe and send
// back small results. Every process runs on its own core; the messages cost next to nothing.
// `cctrace report` should say: keep the process pool, with no `ipc-overhead` warning.
// `--model sequential|threads|processes` runs the same items on one thread, on 4 threads or in
// 4 child processes (the default), and prints the wall time (`make whatif`).
// Run: CCTRACE_OUTPUT=out/cpu-processes.trace.json swift run -c release cpu-processes
import CCTrace
import SampleSupport

/// One item of work: 5 ms of CPU.
@Sendable func compute(item: UInt64) -> UInt64 {
    CCTrace.withSpan("compute") { burnCPU(milliseconds: 5, seed: item) }
}

func main() throws {
    if let fds = childChannelDescriptors() {
        return try serveItems(readFD: fds.readFD, writeFD: fds.writeFD, work: compute)
    }
    CCTrace.setThreadName("main")
    let model = SampleModel.fromArguments(default: .processes, offered: [.sequential, .threads, .processes])
    let start = monotonicNanoseconds()
    let acc = try runItems(model: model, workers: 4, itemsPerWorker: 40, work: compute)
    printWallTime(since: start, model: model)
    print("cpu-processes: 4 workers × 40 items done (\(acc % 10))")
}

try main()
