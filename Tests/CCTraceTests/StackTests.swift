import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import CxxExceptions
import Foundation
import Synchronization
import Testing

/// Burns `milliseconds` of this thread's CPU time.
@inline(never)
func spinCPU(milliseconds: Double) -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    let deadline = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) + Int64(milliseconds * 1e6)
    var x: UInt64 = 1
    while true {
        for i in 0..<20_000 {
            x ^= x >> 33
            x &*= 0xff51_afd7_ed55_8ccd
            x ^= UInt64(truncatingIfNeeded: i)
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        if Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) >= deadline { return x }
    }
}

// A known call chain, each level its own frame.
@inline(never) func chainLevel1(_ ms: Double) -> UInt64 { chainLevel2(ms) &+ 1 }
@inline(never) func chainLevel2(_ ms: Double) -> UInt64 { chainLevel3(ms) &+ 2 }
@inline(never) func chainLevel3(_ ms: Double) -> UInt64 { chainLevel4(ms) &+ 3 }
@inline(never) func chainLevel4(_ ms: Double) -> UInt64 { spinCPU(milliseconds: ms) &+ 4 }

@inline(never)
func stuckCrunch() -> UInt64 { spinCPU(milliseconds: 350) }

struct TestError: Error {
    var value: Int
}

@inline(never)
func throwing(_ depth: Int) throws -> Int {
    if depth == 0 { throw TestError(value: 7) }
    return try throwing(depth - 1) + 1
}

extension RecorderTests {
    @Suite struct Stacks {
        /// The profiler's samples of a deep known chain unwind through every level and are
        /// symbolized, demangled, innermost first.
        @Test func profilerSamplesADeepKnownChain() throws {
            let (model, _) = try recordAndImport(configuring: {
                $0.sampleFrequency = 250
                $0.watchdogThreshold = nil
            }) {
                CCTrace.setThreadName("chain")
                _ = chainLevel1(400)
            }
            let thread = try #require(model.threads.firstIndex { $0.name == "chain" })
            let stacks = model.samples.filter { $0.thread == thread }.compactMap { $0.stackFrame }
                .map { model.stack(of: $0).map(\.name) }
            #expect(stacks.count >= 20, "\(stacks.count) samples")
            let levels = ["chainLevel4", "chainLevel3", "chainLevel2", "chainLevel1"]
            let complete = stacks.filter { frames in
                var next = 0
                for f in frames where next < levels.count && f.contains("CCTraceTests.\(levels[next])(") { next += 1 }
                return next == levels.count
            }
            #expect(complete.count * 2 >= stacks.count, "\(stacks.first ?? [])")
            // Innermost first: the spin loop (or the clock it reads) is above chainLevel4.
            let sample = try #require(complete.first)
            let spin = try #require(sample.firstIndex { $0.contains("spinCPU") })
            let level4 = try #require(sample.firstIndex { $0.contains("chainLevel4") })
            #expect(spin < level4)
            // The report shows it as the thread's hot stack.
            let report = AnalysisReport(model: model)
            let hot = try #require(report.hotStacks.threads.first { $0.thread == thread })
            #expect(hot.stacks.first?.frames.contains { $0.contains("chainLevel4") } == true)
        }

        /// The watchdog catches a loop while it is stuck: the stack of a callback computing
        /// past the threshold, and the system call of one that blocks — without cutting that
        /// sleep short.
        @Test func watchdogCapturesStuckLoops() throws {
            let slept = Mutex<Double>(0)
            let (model, _) = try recordAndImport(configuring: {
                $0.watchdogThreshold = .milliseconds(100)
                $0.cpuSampleInterval = nil
            }) {
                let loop = EventLoopMonitor(name: "test-loop")
                _ = loop.callback("crunch") { stuckCrunch() }
                loop.callback("nap") {
                    let start = Date()
                    usleep(300_000)
                    slept.withLock { $0 = Date().timeIntervalSince(start) }
                }
            }
            #expect(slept.withLock { $0 } >= 0.3)
            let stalls = model.instants.filter { $0.category == "cctrace.sample" && $0.name == "loop stall" }
            let args = stalls.compactMap { $0.args.flatMap { model.arguments.value($0) } }
            #expect(args.allSatisfy { $0["loop"]?.stringValue == "test-loop" })
            let crunch = args.filter {
                if case .array(let frames)? = $0["frames"] {
                    return frames.contains { $0.stringValue?.contains("CCTraceTests.stuckCrunch()") == true }
                }
                return false
            }
            #expect(!crunch.isEmpty, "\(args)")
            let blocked = args.filter { $0["syscall"] != nil }
            #expect(!blocked.isEmpty)
            #expect(blocked.allSatisfy { ($0["syscall"]?.stringValue ?? "").contains("sleep") })
            #expect(blocked.allSatisfy { ($0["stuck_ms"]?.intValue ?? 0) >= 100 })
        }

        /// With the profiler signalling the thread 250 times a second, Swift errors and C++
        /// exceptions are still thrown and caught (libunwind stays out of the process's
        /// unwinder), and the samples land.
        @Test func errorsAndExceptionsWhileSampling() throws {
            var swiftCaught = 0
            var cxxCaught: Int32 = 0
            let (model, _) = try recordAndImport(configuring: { $0.sampleFrequency = 250 }) {
                CCTrace.setThreadName("thrower")
                var ts = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
                let end = ts.tv_sec * 1_000_000_000 + ts.tv_nsec + 300_000_000
                repeat {
                    for _ in 0..<100 {
                        do {
                            _ = try throwing(20)
                        } catch let error as TestError {
                            swiftCaught += error.value == 7 ? 1 : 0
                        } catch {}
                    }
                    cxxCaught += cctrace_test_throw_and_catch(100, 20)
                    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
                } while ts.tv_sec * 1_000_000_000 + ts.tv_nsec < end
            }
            #expect(swiftCaught > 0 && swiftCaught % 100 == 0)
            #expect(Int(cxxCaught) == swiftCaught)
            let thread = try #require(model.threads.firstIndex { $0.name == "thrower" })
            #expect(model.samples.filter { $0.thread == thread }.count >= 20)
        }
    }
}
