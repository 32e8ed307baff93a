import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

/// A minimal real run loop: one thread running timers in due order.
final class TimerLoop: @unchecked Sendable {
    private let condition = NSCondition()
    private var timers: [(due: Date, body: @Sendable () -> Void)] = []
    private var stopped = false

    init(name: String) {
        Thread { [unowned self] in self.run(name: name) }.start()
    }

    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
        condition.lock()
        timers.append((Date().addingTimeInterval(seconds), body))
        timers.sort { $0.due < $1.due }
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run(name: String) {
        CCTrace.setThreadName(name)
        while true {
            condition.lock()
            while !stopped && (timers.isEmpty || timers[0].due > Date()) {
                if let next = timers.first { _ = condition.wait(until: next.due) } else { condition.wait() }
            }
            if stopped {
                condition.unlock()
                return
            }
            let timer = timers.removeFirst()
            condition.unlock()
            timer.body()
        }
    }
}

extension RecorderTests {
    @Suite struct EventLoops {
        /// A callback that blocks the loop shows as a long tick, and the heartbeat's lag counter
        /// shows how late the loop answered.
        @Test func blockedLoopShowsLongTickAndLag() throws {
            let (model, _) = try recordAndImport {
                let loop = TimerLoop(name: "test-loop")
                let monitor = EventLoopMonitor(name: "test-loop")
                monitor.startHeartbeat(every: .milliseconds(10)) { delay, beat in loop.schedule(after: delay, beat) }
                let finished = DispatchSemaphore(value: 0)
                loop.schedule(after: .milliseconds(30)) {
                    monitor.callback("quick") {}
                    monitor.callback("blocking") { usleep(150_000) }
                }
                loop.schedule(after: .milliseconds(300)) { finished.signal() }
                finished.wait()
                monitor.stopHeartbeat()
                loop.stop()
            }
            let blocking = try #require(model.slices.first { $0.name == "blocking" })
            #expect(blocking.category == TraceCategory.loop.rawValue)
            #expect(blocking.duration.nanoseconds >= 150_000_000)
            #expect(blocking.args.flatMap { model.arguments.value($0) }?["loop"] == .string("test-loop"))
            #expect(model.threads[blocking.thread].name == "test-loop")
            let loopInfo = try #require(model.eventLoops.first { $0.name == "test-loop" })
            #expect(loopInfo.callbacks.map { model.slices[$0].name } == ["quick", "blocking"])
            #expect(loopInfo.lag.map { model.counters[$0].name } == "loop lag test-loop")
            let lag = try #require(model.counters.first { $0.name == "loop lag test-loop" })
            #expect(lag.points.count >= 5)
            let worst = lag.points.map(\.1).max() ?? 0
            #expect(worst >= 100)  // ms: a beat was due while the loop was blocked
            let median = lag.points.map(\.1).sorted()[lag.points.count / 2]
            #expect(median < 20)
        }
    }
}
