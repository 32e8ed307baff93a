import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

extension RecorderTests {
    @Suite struct Spans {
        @Test func scopedSpansNestWithArgsAndNames() throws {
            let (model, _) = try recordAndImport {
                CCTrace.setThreadName("test-main")
                CCTrace.withSpan("parent") {
                    CCTrace.withSpan(named: "child \(1)", args: ["bytes": 4096, "peer": "w\"2", "ok": true]) {}
                    CCTrace.withSpan("child.static", args: ["n": 1.5]) {}
                }
            }
            let parent = try #require(model.slices.first { $0.name == "parent" })
            let child = try #require(model.slices.first { $0.name == "child 1" })
            #expect(parent.depth == 0 && child.depth == 1)
            #expect(model.slices[child.parent].name == "parent")
            let args = try #require(child.args.flatMap { model.arguments.value($0) })
            #expect(args["bytes"] == .number(4096))
            #expect(args["peer"] == .string("w\"2"))
            #expect(args["ok"] == .bool(true))
            let statics = try #require(model.slices.first { $0.name == "child.static" })
            #expect(statics.args.flatMap { model.arguments.value($0) }?["n"] == .number(1.5))
            #expect(model.threads[parent.thread].name == "test-main")
            #expect(child.start >= parent.start && child.end <= parent.end)
        }

        @Test func spansThatEndOutOfOrderBecomeAsyncSlices() throws {
            let (model, _) = try recordAndImport {
                let a = CCTrace.beginSpan("a")
                let b = CCTrace.beginSpan("b")
                usleep(1000)
                a.end()  // a ends while b is still open: they overlap without nesting
                usleep(1000)
                b.end()
            }
            // Exactly one of them stays a thread slice; the other is an async slice, so the
            // thread's slices still nest.
            let onThread = model.slices.filter { $0.name == "a" || $0.name == "b" }
            let async = model.asyncSlices.filter { $0.name == "a" || $0.name == "b" }
            #expect(onThread.count == 1 && async.count == 1)
            #expect(model.diagnostics.allSatisfy { $0.kind != .overlappingSlice })
        }

        @Test func spanEndedOnAnotherThreadIsAsync() throws {
            let (model, _) = try recordAndImport {
                let token = CCTrace.beginSpan("handoff")
                let done = DispatchSemaphore(value: 0)
                Thread {
                    token.end()
                    done.signal()
                }.start()
                done.wait()
            }
            #expect(model.slices.allSatisfy { $0.name != "handoff" })
            #expect(model.asyncSlices.contains { $0.name == "handoff" })
        }

        @Test func instantsAndCountersAndSessionMetadata() throws {
            let (model, _) = try recordAndImport {
                CCTrace.instant("checkpoint", args: ["step": 3])
                CCTrace.counter("queue depth", 7)
                CCTrace.counter("queue depth", 2)
            }
            #expect(model.instants.contains { $0.name == "checkpoint" })
            let series = try #require(model.counters.first { $0.name == "queue depth" })
            #expect(series.points.map(\.1) == [7, 2])
            #expect(model.session["cctrace_version"] == .string(CCTrace.version))
            #expect((model.session["cores"]?.intValue ?? 0) >= 1)
            #expect(model.session["host"]?.stringValue?.isEmpty == false)
            #expect(model.session["command_line"]?.stringValue?.isEmpty == false)
            #expect(model.session["clock_domain"] == .string("CLOCK_MONOTONIC"))
        }

        @Test func timestampsAreMonotonicClockMicroseconds() throws {
            var before = timespec()
            clock_gettime(CLOCK_MONOTONIC, &before)
            let (model, _) = try recordAndImport { CCTrace.withSpan("now") { _ = usleep(2000) } }
            var after = timespec()
            clock_gettime(CLOCK_MONOTONIC, &after)
            let span = try #require(model.slices.first { $0.name == "now" })
            let lo = Int64(before.tv_sec) * 1_000_000_000 + Int64(before.tv_nsec)
            let hi = Int64(after.tv_sec) * 1_000_000_000 + Int64(after.tv_nsec)
            #expect(span.start.nanoseconds >= lo && span.end.nanoseconds <= hi)
            #expect(span.duration.nanoseconds >= 2_000_000)
        }

        @Test func cpuAccountingSeparatesWorkFromSleep() throws {
            let (model, _) = try recordAndImport { c in
                c.cpuSampleInterval = .milliseconds(10)
            } body: {
                CCTrace.withSpan("spin") {
                    var x: UInt64 = 1
                    let end = Date().addingTimeInterval(0.2)
                    while Date() < end { x = x &* 6_364_136_223_846_793_005 &+ 1 }
                    #expect(x != 0)
                }
                CCTrace.withSpan("sleep") { _ = usleep(200_000) }
            }
            let spin = try #require(model.slices.first { $0.name == "spin" })
            let sleep = try #require(model.slices.first { $0.name == "sleep" })
            let cpu = try #require(model.threads[spin.thread].cpu)
            // A spinning thread is always either on a CPU or waiting for one (however busy the
            // machine is); a sleeping one is neither.
            let spinUse = cpu.usage(in: spin.start...spin.end)
            let sleepUse = cpu.usage(in: sleep.start...sleep.end)
            let spinBusy = Double(spinUse.running.nanoseconds + spinUse.runnable.nanoseconds)
            let sleepBusy = Double(sleepUse.running.nanoseconds + sleepUse.runnable.nanoseconds)
            #expect(spinBusy > 0.7 * Double(spin.duration.nanoseconds))
            #expect(spinUse.running.nanoseconds > 0)
            #expect(sleepBusy < 0.2 * Double(sleep.duration.nanoseconds))
        }

        @Test func threadCPUTimeOnRequest() throws {
            let (model, _) = try recordAndImport { c in
                c.threadCPUTime = true
            } body: {
                CCTrace.withSpan("spin") {
                    var x: UInt64 = 1
                    let end = Date().addingTimeInterval(0.05)
                    while Date() < end { x = x &* 6_364_136_223_846_793_005 &+ 1 }
                    #expect(x != 0)
                }
                CCTrace.withSpan(named: "sleep") { _ = usleep(50_000) }
            }
            let spin = try #require(model.slices.first { $0.name == "spin" })
            let sleep = try #require(model.slices.first { $0.name == "sleep" })
            let spinCPU = try #require(spin.threadDuration)
            let sleepCPU = try #require(sleep.threadDuration)
            // Shared machines: the spin may get half a core, but it gets one; the sleep gets none.
            #expect(Double(spinCPU.nanoseconds) > 0.2 * Double(spin.duration.nanoseconds))
            #expect(Double(sleepCPU.nanoseconds) < 0.2 * Double(sleep.duration.nanoseconds))
            // The CPU clock and the wall clock are read one after the other (the CPU clock is a
            // system call), so the CPU time may pass the wall time by a few microseconds.
            #expect(spinCPU.nanoseconds <= spin.duration.nanoseconds + 500_000)
        }

        @Test func noThreadCPUTimeByDefault() throws {
            let (model, _) = try recordAndImport { CCTrace.withSpan("plain") {} }
            #expect(model.slices.first { $0.name == "plain" }?.threadDuration == nil)
        }

        @Test func environmentConfiguration() {
            let c = TraceConfiguration(environment: [
                "CCTRACE_OUTPUT": "/tmp/t-%p.json", "CCTRACE_FLUSH_MS": "25", "CCTRACE_BUFFER_MB": "8",
                "CCTRACE_OVERFLOW": "block", "CCTRACE_CLOCK": "monotonic", "CCTRACE_CPU_SAMPLE_MS": "0",
                "CCTRACE_PROCESS_NAME": "svc", "CCTRACE_THREAD_CPU": "1",
            ])
            #expect(c?.outputPath == "/tmp/t-\(getpid()).json")
            #expect(c?.flushInterval == .milliseconds(25))
            #expect(c?.bufferLimit == 8 << 20)
            #expect(c?.overflow == .block)
            #expect(c?.clock == .monotonic)
            #expect(c?.cpuSampleInterval == nil)
            #expect(c?.processName == "svc")
            #expect(c?.threadCPUTime == true)
            #expect(TraceConfiguration(environment: [:]) == nil)
        }

        /// Sessions do not leak into each other, and nothing is recorded between them: a
        /// thread that recorded in one session starts clean in the next.
        @Test func sessionsAreIsolatedAndStoppedRecordingIsOff() throws {
            let (first, _) = try recordAndImport { for _ in 0..<3000 { CCTrace.withSpan("first") {} } }
            #expect(!CCTrace.isRecording)
            CCTrace.withSpan("between") {}
            CCTrace.withSpan(named: "between-named") {}
            CCTrace.instant("between-instant")
            let (second, _) = try recordAndImport { CCTrace.withSpan("second") {} }
            #expect(first.slices.filter { $0.name == "first" }.count == 3000)
            #expect(Set(second.slices.map(\.name)) == ["second"])
            #expect(second.instants.isEmpty)
        }

        /// A program that links CCTrace records with only CCTRACE_OUTPUT set.
        @Test func environmentStartsRecordingWithoutCodeChanges() throws {
            let path = makeTemporaryDirectory().appendingPathComponent("env.json").path
            let run = try runProduct("sequential", [], environment: ["CCTRACE_OUTPUT": path])
            #expect(run.status == 0)
            let model = try TraceImporter.importTrace(path: path)
            #expect(model.slices.contains { $0.name == "pipeline" })
            #expect(model.processes.first?.name == "sequential")
        }
    }
}
