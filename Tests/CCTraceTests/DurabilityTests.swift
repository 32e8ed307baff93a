import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

extension RecorderTests {
    /// A traced program that dies still leaves a trace that imports, holding what it recorded.
    @Suite struct Durability {
        static let spans = 20_000  // per thread, two threads

        func trace(_ mode: String) throws -> (TraceModel, Int32, Process.TerminationReason) {
            let path = makeTemporaryDirectory().appendingPathComponent("\(mode).json").path
            let run = try runProduct(
                "cctrace-crashtest", [mode, "\(Self.spans)"], environment: ["CRASHTEST_OUTPUT": path])
            return (try TraceImporter.importTrace(path: path), run.status, run.reason)
        }

        @Test(arguments: [("abort", SIGABRT), ("segv", SIGSEGV), ("term", SIGTERM)])
        func fatalSignalFlushesAndStillKills(mode: String, signal: Int32) throws {
            let (model, status, reason) = try trace(mode)
            // The process died of the same signal it would have without tracing.
            #expect(reason == .uncaughtSignal)
            #expect(status == signal)
            #expect(model.slices.filter { $0.name == "before" }.count == 2 * Self.spans)
            #expect(model.session["end_reason"] == .string("signal"))
            #expect(model.session["end_signal"]?.intValue == Int64(signal))
            #expect(model.diagnostics.allSatisfy { $0.kind != .truncatedFile })
        }

        /// A Swift fatal error with the profiler and the watchdog on: the Swift runtime's crash
        /// report still names the failing function, the process dies of the same signal, and
        /// the trace records how it ended.
        @Test func swiftCrashReportsStillWork() throws {
            let path = makeTemporaryDirectory().appendingPathComponent("fatal.json").path
            let process = Process()
            process.executableURL = productsDirectory().appendingPathComponent("cctrace-crashtest")
            process.arguments = ["fatal", "1000"]
            var env = ProcessInfo.processInfo.environment
            env["SWIFT_BACKTRACE"] = "enable=yes,interactive=no"
            env["CRASHTEST_OUTPUT"] = path
            env["CCTRACE_SAMPLE_HZ"] = "250"
            process.environment = env
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            #expect(process.terminationStatus == SIGILL)
            #expect(text.contains("Fatal error: cctrace crash test"))
            #expect(text.contains("failFatally()"), "\(text.prefix(2000))")
            let model = try TraceImporter.importTrace(path: path)
            #expect(model.session["end_signal"]?.intValue == Int64(SIGILL))
        }

        @Test func normalExitFlushes() throws {
            let (model, status, _) = try trace("exit")
            #expect(status == 0)
            #expect(model.slices.filter { $0.name == "before" }.count == 2 * Self.spans)
            #expect(model.session["end_reason"] == .string("stop"))
        }

        /// A child that inherits CCTRACE_OUTPUT writes its own file instead of truncating the
        /// parent's.
        @Test func childrenDoNotClobberTheParentTrace() throws {
            let path = makeTemporaryDirectory().appendingPathComponent("parent.json").path
            let run = try runProduct("cctrace-crashtest", ["spawn", "1000"], environment: ["CCTRACE_OUTPUT": path])
            #expect(run.status == 0)
            let childPID = try #require(
                run.output.split(separator: " ").last.flatMap {
                    Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
                })
            let parent = try TraceImporter.importTrace(path: path)
            #expect(parent.slices.filter { $0.name == "parent" }.count == 1000)
            #expect(parent.slices.allSatisfy { $0.name != "before" })
            let child = try TraceImporter.importTrace(path: path + ".\(childPID)")
            #expect(child.slices.filter { $0.name == "before" }.count == 2000)
            #expect(child.processes.map(\.pid) == [Int64(childPID)])
        }

        /// One command, one trace: traced children join the parent's file on one clock, with a
        /// flow from each spawn to the child's start, and the crash of one child is recorded.
        @Test func childrenJoinTheParentTrace() throws {
            let dir = makeTemporaryDirectory()
            let path = dir.appendingPathComponent("family.json").path
            let run = try runProduct("cctrace-crashtest", ["family", "500"], environment: ["CCTRACE_OUTPUT": path])
            #expect(run.status == 0)
            let words = run.output.split(whereSeparator: \.isWhitespace)
            #expect(words.count == 5 && words[0] == "children", "\(run.output)")
            guard words.count == 5, let okPID = Int64(words[1]), let crashPID = Int64(words[2]) else { return }
            #expect(words[3] == "0" && words[4] == "\(SIGSEGV)")
            // The children's files were merged and removed.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["family.json"])
            let model = try TraceImporter.importTrace(path: path)
            let pids = Set(model.processes.map(\.pid))
            #expect(pids.contains(okPID) && pids.contains(crashPID) && pids.count == 3)
            for child in [okPID, crashPID] {
                let before = model.slices.filter { $0.name == "before" && model.threads[$0.thread].pid == child }
                #expect(before.count == 1000)
                #expect(model.slices.contains { $0.name == "process start" && model.threads[$0.thread].pid == child })
                #expect(model.flows.contains { $0.to.pid == child && $0.from.pid != child })
                #expect(
                    model.processes.first { $0.pid == child }?.name == (child == okPID ? "worker-ok" : "worker-crash"))
            }
            let exits = model.instants.filter { $0.name == "exit worker-crash" }
            let exitArgs = try #require(exits.first?.args.flatMap { model.arguments.value($0) })
            #expect(exitArgs["signal"]?.intValue == Int64(SIGSEGV))
            #expect(model.slices.contains { $0.name == "spawn worker-ok" })
        }

        /// Two processes talking over a TracedChannel: every message is a flow from one pid to
        /// the other, with serialize/send/receive/deserialize spans and byte counts.
        @Test func channelMessagesAreFlowsBetweenProcesses() throws {
            let path = makeTemporaryDirectory().appendingPathComponent("ipc.json").path
            let run = try runProduct("cctrace-crashtest", ["ipc", "20"], environment: ["CCTRACE_OUTPUT": path])
            #expect(run.status == 0)
            let words = run.output.split(whereSeparator: \.isWhitespace)
            guard words.count == 4, let childPID = Int64(words[1]) else {
                Issue.record("unexpected output: \(run.output)")
                return
            }
            // Each request of 1024 bytes valued i sums to 1024 * (i % 256).
            #expect(words[2] == "\((0..<20).reduce(0) { $0 + 1024 * ($1 % 256) })" && words[3] == "0")
            let model = try TraceImporter.importTrace(path: path)
            let parentPID = Int64(try #require(model.processes.first { $0.pid != childPID && $0.pid != 0 }).pid)
            let messages = model.flows.filter { $0.name == "message work" }
            #expect(messages.count == 40)
            #expect(messages.filter { $0.from.pid == parentPID && $0.to.pid == childPID }.count == 20)
            #expect(messages.filter { $0.from.pid == childPID && $0.to.pid == parentPID }.count == 20)
            for kind in ["serialize work", "send work", "receive work", "deserialize work"] {
                #expect(model.slices.filter { $0.name == kind }.count == 40, "\(kind)")
            }
            let send = try #require(
                model.slices.first { $0.name == "send work" && model.threads[$0.thread].pid == parentPID })
            #expect(send.args.flatMap { model.arguments.value($0) }?["bytes"] == .number(1024))
        }

        /// SIGKILL runs no handler: the file is cut off, but everything recorded more than a
        /// flush interval (100 ms) before the kill is there — plain, and as gzip (`….json.gz`,
        /// every flush a sync point, so the cut-off stream decompresses up to the last flush).
        @Test(arguments: ["kill.json", "kill.json.gz"])
        func sigkillLosesAtMostTheLastFlushInterval(_ file: String) throws {
            let path = makeTemporaryDirectory().appendingPathComponent(file).path
            let run = try runProduct(
                "cctrace-crashtest", ["kill", "\(Self.spans)"], environment: ["CRASHTEST_OUTPUT": path]
            ) { process, output in
                // Wait for "ready" (all `before` spans recorded), give the writer 3 intervals.
                var seen = Data()
                while !String(decoding: seen, as: UTF8.self).contains("ready") {
                    let chunk = output.availableData
                    if chunk.isEmpty { break }
                    seen.append(chunk)
                }
                Thread.sleep(forTimeInterval: 0.3)
                kill(process.processIdentifier, SIGKILL)
            }
            #expect(run.reason == .uncaughtSignal && run.status == SIGKILL)
            let model = try TraceImporter.importTrace(path: path)
            #expect(model.slices.filter { $0.name == "before" }.count == 2 * Self.spans)
            #expect(model.slices.contains { $0.name == "after" })
            #expect(
                model.diagnostics.contains {
                    $0.kind == (file.hasSuffix(".gz") ? .truncatedCompression : .truncatedFile)
                }, "\(model.diagnostics)")
            if file.hasSuffix(".gz") {
                let head = try #require(FileHandle(forReadingAtPath: path)?.readData(ofLength: 2))
                #expect(Array(head) == [0x1f, 0x8b])
            }
        }
    }
}
