// blocked-loop — a SwiftNIO event loop serving many small requests, where one handler
// (`renderReport`) does ~300 ms of CPU work and another (`loadConfig`) sleeps 250 ms in a
// blocking call, both on the loop. Every other callback waits behind them. `cctrace report`
// should find `blocked-event-loop` naming both handlers and recommend keeping the loop and
// offloading that work (hybrid).
// `--model async|hybrid` runs the same callbacks with everything on the loop (the default) or
// with `renderReport` and `loadConfig` offloaded to a thread pool (the loop awaits their
// results), and prints the wall time (`make whatif`).
// Run: CCTRACE_OUTPUT=out/blocked-loop.trace.json swift run -c release blocked-loop
import CCTrace
import CCTraceNIO
import NIOCore
import NIOPosix
import SampleSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A small request: 0.2 ms of work.
func serveRequest(_ n: Int) -> UInt64 {
    CCTrace.withSpan("serveRequest") { burnCPU(milliseconds: 0.2, seed: UInt64(n)) }
}

/// The CPU-heavy handler that should not run on the loop.
func renderReport() -> UInt64 {
    CCTrace.withSpan("renderReport") { burnCPU(milliseconds: 300, seed: 7) }
}

/// The blocking handler that should not run on the loop either.
func loadConfig() {
    CCTrace.withSpan("loadConfig") { usleep(250_000) }
}

func main() throws {
    CCTrace.setThreadName("main")
    let model = SampleModel.fromArguments(default: .async, offered: [.async, .hybrid])
    let pool = NIOThreadPool(numberOfThreads: 2)
    pool.start()
    let tracer = NIOEventLoopTracer()
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: tracer)
    tracer.startHeartbeats(on: group, every: .milliseconds(10))
    let loop = group.next()
    let start = monotonicNanoseconds()
    var pending: [EventLoopFuture<Void>] = []
    for n in 0..<150 {
        pending.append(loop.scheduleTask(in: .milliseconds(Int64(n) * 8)) { _ = serveRequest(n) }.futureResult)
    }
    if model == .hybrid {
        // Offloaded: the loop hands the work to the pool and goes on serving.
        pending.append(
            loop.flatScheduleTask(in: .milliseconds(300)) { pool.runIfActive(eventLoop: loop) { _ = renderReport() } }
                .futureResult)
        pending.append(
            loop.flatScheduleTask(in: .milliseconds(800)) { pool.runIfActive(eventLoop: loop) { loadConfig() } }
                .futureResult)
    } else {
        pending.append(loop.scheduleTask(in: .milliseconds(300)) { _ = renderReport() }.futureResult)
        pending.append(loop.scheduleTask(in: .milliseconds(800)) { loadConfig() }.futureResult)
    }
    for f in pending { try f.wait() }
    printWallTime(since: start, model: model)
    tracer.stopHeartbeats()
    usleep(20_000)
    try group.syncShutdownGracefully()
    try pool.syncShutdownGracefully()
    print("blocked-loop: \(pending.count) callbacks done")
}

try main()
