import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension RecorderTests {
    /// `CCTRACE_MODE=ring`: the last N bytes of events in memory, written only on a trigger.
    @Suite struct FlightRecorder {
        /// Waits up to 5 s for the writer to write `path`, then a little longer for it to finish.
        static func waitForDump(_ path: String) {
            var waited = 0
            while !FileManager.default.fileExists(atPath: path) && waited < 500 {
                usleep(10_000)
                waited += 1
            }
            usleep(50_000)
        }

        /// Spans named `phase-<k>`, many, so the ring wraps.
        static func spans(_ phase: Int, count: Int) {
            let name = "phase-\(phase)"
            for _ in 0..<count { CCTrace.withSpan(named: name) {} }
        }

        /// Two dumps by `CCTrace.dump()`: each a valid trace of the window before it — its
        /// recent spans, not the oldest, with the thread's name recorded long before the window
        /// — and nothing is written at the output path itself.
        @Test func dumpsAreCompleteTracesOfTheWindow() throws {
            let dir = makeTemporaryDirectory()
            let path = dir.appendingPathComponent("ring.json").path
            var configuration = TraceConfiguration(outputPath: path)
            var ring = TraceConfiguration.Ring()
            ring.bytes = 256 << 10
            ring.signal = nil
            configuration.ring = ring
            configuration.cpuSampleInterval = nil
            try CCTrace.start(configuration)
            CCTrace.setThreadName("ring-main")
            Self.spans(1, count: 20_000)  // ~2 MB: far more than the window
            Self.spans(2, count: 500)
            let first = try #require(CCTrace.dump())
            Self.spans(3, count: 500)
            let second = try #require(CCTrace.dump())
            Self.spans(4, count: 10)
            CCTrace.stop()
            #expect(first.hasSuffix("ring.dump1.json") && second.hasSuffix("ring.dump2.json"))
            #expect(!FileManager.default.fileExists(atPath: path))
            for (dump, newest) in [(first, 2), (second, 3)] {
                let model = try TraceImporter.importTrace(path: dump)
                #expect(model.diagnostics.isEmpty, "\(dump): \(model.diagnostics)")
                let names = Set(model.slices.map(\.name))
                #expect(names.contains("phase-\(newest)"))
                #expect(!names.contains("phase-\(newest + 1)"))
                #expect(model.slices.filter { $0.name == "phase-1" }.count < 20_000)
                #expect(model.threads.contains { $0.name == "ring-main" }, "thread names survive the ring")
                #expect(model.session["cores"] != nil, "session metadata survives the ring")
                let text = try String(contentsOfFile: dump, encoding: .utf8)
                #expect(text.utf8.count < 400 << 10)
            }
        }

        /// The dump signal (SIGUSR2 by default) writes a dump; recording goes on after it.
        @Test func signalDumps() throws {
            let dir = makeTemporaryDirectory()
            let path = dir.appendingPathComponent("sig.json.gz").path
            var configuration = TraceConfiguration(outputPath: path)
            configuration.ring = TraceConfiguration.Ring()
            configuration.cpuSampleInterval = nil
            try CCTrace.start(configuration)
            defer { CCTrace.stop() }
            for round in 1...2 {
                Self.spans(round, count: 100)
                kill(getpid(), SIGUSR2)
                let dump = dir.appendingPathComponent("sig.dump\(round).json.gz").path
                Self.waitForDump(dump)
                let model = try TraceImporter.importTrace(path: dump)
                #expect(model.diagnostics.isEmpty, "\(model.diagnostics)")
                #expect(model.slices.contains { $0.name == "phase-\(round)" })
            }
        }

        /// A long lock wait triggers a dump by itself.
        @Test func longLockWaitTriggersADump() throws {
            let dir = makeTemporaryDirectory()
            let path = dir.appendingPathComponent("lock.json").path
            var configuration = TraceConfiguration(outputPath: path)
            var ring = TraceConfiguration.Ring()
            ring.lockWait = .milliseconds(20)
            ring.signal = nil
            configuration.ring = ring
            configuration.cpuSampleInterval = nil
            try CCTrace.start(configuration)
            defer { CCTrace.stop() }
            let lock = TracedMutex(0, name: "slow")
            let holder = Thread {
                lock.withLock { _ in _ = usleep(60_000) }
            }
            holder.start()
            usleep(10_000)
            lock.withLock { $0 += 1 }
            let dump = dir.appendingPathComponent("lock.dump1.json").path
            Self.waitForDump(dump)
            let model = try TraceImporter.importTrace(path: dump)
            #expect(model.lockWaits.contains { $0.lock == "slow" })
        }
    }
}
