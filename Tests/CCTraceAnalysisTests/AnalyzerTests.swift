import CCTraceAnalysis
import CCTraceFormat
import Testing

/// Builds small Chrome traces in memory (times in microseconds).
struct TraceBuilder {
    var events: [String] = []

    mutating func slice(
        _ name: String, tid: Int, ts: Double, dur: Double, pid: Int = 1, cat: String = "app", args: String? = nil
    ) {
        let a = args.map { ",\"args\":\($0)" } ?? ""
        events.append(
            #"{"ph":"X","name":"\#(name)","cat":"\#(cat)","pid":\#(pid),"tid":\#(tid),"ts":\#(ts),"dur":\#(dur)\#(a)}"#)
    }

    mutating func threadName(_ name: String, tid: Int, pid: Int = 1) {
        events.append(#"{"ph":"M","name":"thread_name","pid":\#(pid),"tid":\#(tid),"args":{"name":"\#(name)"}}"#)
    }

    /// CPU accounting: one reading per `step` µs from `from` to `to` with these shares.
    mutating func cpu(
        tid: Int, from: Double, to: Double, step: Double = 20_000, running: (Double) -> Double, runnable: Double = 0,
        pid: Int = 1
    ) {
        var t = from
        while t <= to {
            events.append(
                #"{"ph":"C","name":"cpu \#(tid)","cat":"cctrace.cpu","pid":\#(pid),"tid":\#(tid),"ts":\#(t),"args":{"running_pct":\#(running(t) * 100),"runnable_pct":\#(runnable * 100)}}"#
            )
            t += step
        }
    }

    mutating func session(cores: Int) {
        events.append(
            #"{"ph":"M","name":"cctrace.session","cat":"cctrace.session","pid":1,"tid":1,"args":{"cores":\#(cores),"clock":"test","cctrace_version":"test"}}"#
        )
    }

    /// The report, with 2 cores assumed where the trace does not say (the figures these tests
    /// were written for) and the analysis invariants checked.
    func report(_ options: AnalysisOptions = AnalysisOptions()) throws -> AnalysisReport {
        let model = try TraceImporter.importTrace(bytes: Array(("[" + events.joined(separator: ",\n") + "]").utf8))
        var options = options
        if options.assumedCores == nil { options.assumedCores = 2 }
        let report = AnalysisReport(model: model, options: options)
        let broken = AnalysisInvariants.violations(of: report.analysis, model: model)
        #expect(broken.isEmpty, "\(broken)")
        return report
    }
}

extension AnalysisReport {
    func warnings(_ id: String) -> [Finding] { findings.filter { $0.id == id && $0.severity == .warning } }
}

@Suite struct LockContentionTests {
    /// A thread joining another waits on a lock inside `join` — waiting for a result, not
    /// contention.
    @Test func joinIsNotContention() throws {
        var b = TraceBuilder()
        b.slice("worker (app.py:1)", tid: 2, ts: 0, dur: 200_000)
        b.slice("time.sleep", tid: 2, ts: 0, dur: 200_000)
        b.slice("Thread.join (threading.py:1)", tid: 1, ts: 10, dur: 199_000)
        b.slice("Thread._wait_for_tstate_lock (threading.py:2)", tid: 1, ts: 20, dur: 198_000)
        b.slice("_thread.lock.acquire", tid: 1, ts: 30, dur: 197_000)
        let r = try b.report()
        #expect(r.findings.filter { $0.id == "lock-contention" }.allSatisfy { $0.severity == .ok })
        #expect(r.profile.total.lockWait == 0)
    }

    /// Repeated acquires that wait are contention, grouped by the caller, marked inferred.
    @Test func repeatedWaitsByNameAreContention() throws {
        var b = TraceBuilder()
        for t in 2...4 {
            for i in 0..<5 {
                let ts = Double(i * 10_000 + t * 100)
                b.slice("update (app.py:9)", tid: t, ts: ts, dur: 9_000)
                b.slice("_thread.lock.acquire", tid: t, ts: ts + 10, dur: 6_000)
            }
        }
        let r = try b.report()
        let f = try #require(r.warnings("lock-contention").first)
        #expect(f.inferred)
        #expect(f.subject.contains("update"))
        let stats = try #require(r.analysis.findings.locks.locks.first)
        #expect(stats.severity == .warning)
        #expect(stats.waits == 15)
        #expect(stats.waiters == 3)
        #expect(stats.lock == .takenIn("update"))
    }

    /// One slow acquire (say at shutdown) is worth knowing, not a warning.
    @Test func aSingleWaitIsNotAWarning() throws {
        var b = TraceBuilder()
        b.slice("shutdown (app.py:1)", tid: 1, ts: 0, dur: 10_000)
        b.slice("_thread.lock.acquire", tid: 1, ts: 10, dur: 9_000)
        let r = try b.report()
        #expect(r.warnings("lock-contention").isEmpty)
        #expect(r.findings.contains { $0.id == "lock-contention" && $0.severity == .info })
    }

    /// cctrace's lock waits carry the owner: the report names the holder and follows the
    /// wait-for chain (a waits for L1 held by b, which waits for L2 held by c).
    @Test func ownersAndWaitForChains() throws {
        var b = TraceBuilder()
        b.threadName("a", tid: 11)
        b.threadName("b", tid: 12)
        b.threadName("c", tid: 13)
        b.slice("work", tid: 13, ts: 0, dur: 50_000)
        b.slice("lock hold", tid: 13, ts: 0, dur: 50_000, cat: "cctrace.lock", args: #"{"lock":"L2","lock_id":2}"#)
        b.slice("work", tid: 12, ts: 0, dur: 60_000)
        b.slice(
            "lock wait", tid: 12, ts: 5_000, dur: 45_000, cat: "cctrace.lock",
            args: #"{"lock":"L2","lock_id":2,"owner_tid":13}"#)
        for i in 0..<3 {
            b.slice("step", tid: 11, ts: Double(10_000 + i * 12_000), dur: 11_000)
            b.slice(
                "lock wait", tid: 11, ts: Double(10_000 + i * 12_000), dur: 10_000, cat: "cctrace.lock",
                args:
                    #"{"lock":"L1","lock_id":1,"owner_tid":12,"frames":["app.refresh() + 0x10 (app)","partial apply forwarder for x + 0x4 (app)","app.main() + 0x20 (app)"]}"#
            )
        }
        let r = try b.report()
        let l1 = try #require(r.findings.first { $0.id == "lock-contention" && $0.subject == "L1" })
        #expect(l1.summary.contains("b (12) held it"))
        let stats = try #require(r.analysis.findings.locks.locks.first { $0.lock == .named("L1") })
        let chain = try #require(stats.chain)
        #expect(chain.map(\.holder) == ["b (12)", "c (13)"])
        #expect(chain.last?.lock == .named("L2"))
        let text = ReportRenderer.render(r, path: "t", format: .json)
        #expect(
            text.contains("wait-for chain: a (11) waits for 'L1' held by b (12), which waits for 'L2' held by c (13)"))
        let stack = try #require(l1.evidence.first { !$0.stack.isEmpty })
        #expect(stack.stack == ["app.refresh()", "app.main()"])
    }
}

@Suite struct BlockedEventLoopTests {
    /// Python asyncio's shape: `_run_once` iterations running `Handle._run` callbacks; the
    /// offender is the coroutine, not the plumbing around it.
    func asyncioTrace(blocking: Double) -> TraceBuilder {
        var b = TraceBuilder()
        var ts = 0.0
        for i in 0..<6 {
            let long = i == 3
            let d = long ? blocking : 1_000
            b.slice("BaseEventLoop._run_once (asyncio/base_events.py:1)", tid: 1, ts: ts, dur: d + 100)
            b.slice("Handle._run (asyncio/events.py:1)", tid: 1, ts: ts + 10, dur: d)
            b.slice("_contextvars.Context.run", tid: 1, ts: ts + 20, dur: d - 20)
            b.slice(long ? "crunch (app.py:3)" : "tick (app.py:9)", tid: 1, ts: ts + 30, dur: d - 40)
            ts += d + 200
        }
        return b
    }

    @Test func asyncioCallbackOverThresholdIsNamed() throws {
        let r = try asyncioTrace(blocking: 150_000).report()
        let f = try #require(r.warnings("blocked-event-loop").first)
        #expect(f.summary.contains("'crunch'"))
        #expect(f.inferred)
        #expect(r.recommendation.model == .hybrid)
    }

    @Test func thresholdIsAnOption() throws {
        let b = asyncioTrace(blocking: 60_000)
        #expect(try b.report().warnings("blocked-event-loop").isEmpty)
        var options = AnalysisOptions()
        options.heuristics.slowCallback = TraceDuration(nanoseconds: 50_000_000)
        #expect(try !b.report(options).warnings("blocked-event-loop").isEmpty)
    }

    /// cctrace's loops: a callback per slice, and the heartbeat's lag in the summary.
    @Test func cctraceLoopWithLag() throws {
        var b = TraceBuilder()
        for i in 0..<10 {
            let d = i == 5 ? 120_000.0 : 500
            b.slice(
                i == 5 ? "render" : "serve", tid: 7, ts: Double(i) * 130_000, dur: d, cat: "cctrace.loop",
                args: #"{"loop":"main"}"#)
        }
        for i in 0..<20 {
            let lag = i == 10 ? 118.0 : 0.2
            b.events.append(
                #"{"ph":"C","name":"loop lag main","cat":"cctrace.loop","pid":1,"tid":7,"ts":\#(Double(i) * 65_000),"args":{"lag_ms":\#(lag)}}"#
            )
        }
        let r = try b.report()
        let f = try #require(r.warnings("blocked-event-loop").first)
        #expect(f.subject == "main")
        #expect(f.summary.contains("'render'"))
        #expect(r.analysis.findings.loops.loops.first?.lag?.max == 118_000_000)
    }
}

@Suite struct IPCOverheadTests {
    /// cctrace's receive counts from the message's arrival (the flow's end), not from when the
    /// receiver began waiting.
    @Test func receiveWaitIsNotTransfer() throws {
        var b = TraceBuilder()
        b.slice(
            "serialize jobs", tid: 1, ts: 0, dur: 1_000, cat: "cctrace.ipc", args: #"{"bytes":100,"channel":"jobs"}"#)
        b.slice(
            "send jobs", tid: 1, ts: 90_000, dur: 1_000, cat: "cctrace.ipc", args: #"{"bytes":100,"channel":"jobs"}"#)
        b.events.append(#"{"ph":"s","name":"message jobs","cat":"cctrace.ipc","pid":1,"tid":1,"ts":90000,"id":7}"#)
        b.slice(
            "receive jobs", tid: 2, ts: 0, dur: 92_000, pid: 2, cat: "cctrace.ipc",
            args: #"{"bytes":100,"channel":"jobs"}"#)
        b.events.append(
            #"{"ph":"f","bp":"e","name":"message jobs","cat":"cctrace.ipc","pid":2,"tid":2,"ts":91000,"id":7}"#)
        b.slice("compute", tid: 2, ts: 92_000, dur: 500_000, pid: 2)
        let r = try b.report()
        let f = try #require(r.findings.first { $0.id == "ipc-overhead" && $0.subject == "jobs" })
        // serialize 1 ms + send 1 ms + receive 1 ms (of 92 ms, 91 of them waiting).
        let jobs = try #require(r.analysis.findings.ipc.channels.first { $0.name == "jobs" })
        #expect(jobs.total == 3_000_000)
        #expect(f.severity == .info)
    }

    /// Python multiprocessing's names: pickling and send_bytes/recv_bytes; a receive's first
    /// read is the wait for the message.
    @Test func multiprocessingShapes() throws {
        var b = TraceBuilder()
        for i in 0..<4 {
            let ts = Double(i) * 100_000
            b.slice("ForkingPickler.dumps (multiprocessing/reduction.py:48)", tid: 1, ts: ts, dur: 20_000)
            b.slice(
                "_ConnectionBase.send_bytes (multiprocessing/connection.py:182)", tid: 1, ts: ts + 20_000, dur: 30_000)
            b.slice(
                "_ConnectionBase.recv_bytes (multiprocessing/connection.py:208)", tid: 2, ts: ts, dur: 60_000, pid: 2)
            b.slice("posix.read", tid: 2, ts: ts + 10, dur: 40_000, pid: 2)
            b.slice("posix.read", tid: 2, ts: ts + 40_100, dur: 19_000, pid: 2)
            b.slice("_pickle.loads", tid: 2, ts: ts + 60_000, dur: 10_000, pid: 2)
            b.slice("work (app.py:1)", tid: 2, ts: ts + 70_000, dur: 5_000, pid: 2)
        }
        let r = try b.report()
        let f = try #require(r.warnings("ipc-overhead").first)
        #expect(f.inferred)
        let pipes = try #require(r.analysis.findings.ipc.channels.first)
        #expect(pipes.serialize == 80_000_000)
        #expect(pipes.deserialize == 40_000_000)
        // send 4 × 30 ms; receive 4 × (60 − 40 waiting) ms.
        #expect(pipes.transfer == 200_000_000)
    }
}

@Suite struct CPUSerializedTests {
    /// Two CPU-bound threads taking turns on one lock run on one core of two.
    /// Two Python threads taking turns through condition waits whose stack shows the
    /// interpreter waiting for the GIL (`cctrace record`'s shape): the GIL is the measured cause,
    /// and its waits are not lock contention. The same waits called from an extension's own
    /// code are not the GIL.
    @Test(arguments: [true, false])
    func gilRecognizedByItsCallers(_ interpreter: Bool) throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        b.events.append(
            #"{"ph":"M","name":"cctrace.session","cat":"cctrace.session","pid":1,"tid":1,"args":{"cores":2,"clock":"test","cctrace_version":"test","language":"python"}}"#
        )
        let image = interpreter ? "libpython3.11.so.1.0" : "_mine.cpython-311.so"
        let frames =
            #"["0x7f01 (libcctrace-preload-1.so)","0x7f02 (\#(image))","PyEval_RestoreThread + 0xe (libpython3.11.so.1.0)"]"#
        for tid in [2, 3] {
            b.threadName("w\(tid)", tid: tid)
            for k in 0..<20 {
                let ts = Double(k) * 20_000
                b.slice("item", tid: tid, ts: ts, dur: 20_000)
                if (k % 2 == 0) != (tid == 2) {
                    let first = k < 2 ? #","frames":\#(frames)"# : ""
                    b.slice(
                        "pthread_cond_timedwait", tid: tid, ts: ts, dur: 19_900, cat: "cctrace.preload",
                        args: #"{"cond":"0xc0nd"\#(first)}"#)
                }
            }
            b.cpu(tid: tid, from: 0, to: 400_000, running: { t in (Int(t / 20_000) % 2 == 0) == (tid == 2) ? 1 : 0 })
        }
        let r = try b.report()
        #expect(r.profile.classification.gilWaits.isEmpty != interpreter)
        #expect(r.warnings("lock-contention").isEmpty)
        if interpreter {
            let serialized = try #require(r.analysis.findings.serialization.serialized.first)
            #expect(serialized.cause == .gil(inferred: false))
            #expect(r.recommendation.model == .processes)
        }
    }

    @Test func lockSerializedThreads() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        for tid in [2, 3] {
            b.threadName("w\(tid)", tid: tid)
            // Alternate 20 ms turns: one runs while the other waits for the lock.
            for k in 0..<20 {
                let ts = Double(k) * 20_000
                let mine = (k % 2 == 0) == (tid == 2)
                b.slice("item", tid: tid, ts: ts, dur: 20_000)
                if !mine {
                    b.slice(
                        "lock wait", tid: tid, ts: ts, dur: 19_900, cat: "cctrace.lock",
                        args: #"{"lock":"gil","lock_id":1,"owner_tid":\#(tid == 2 ? 3 : 2)}"#)
                }
            }
            b.cpu(tid: tid, from: 0, to: 400_000, running: { t in (Int(t / 20_000) % 2 == 0) == (tid == 2) ? 1 : 0 })
        }
        let r = try b.report()
        let f = try #require(r.warnings("cpu-serialized").first)
        #expect(f.subject == "lock 'gil'")
        let serialized = try #require(r.analysis.findings.serialization.serialized.first)
        #expect(serialized.parallelism < 1.1)
        #expect(serialized.cause == .lock(name: "gil"))
        #expect(r.recommendation.model == .processes)
        #expect(r.recommendation.current.model == .threads)
    }

    /// The same threads without the lock run in parallel: keep threads.
    @Test func parallelThreadsAreFine() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        for tid in [2, 3] {
            for k in 0..<20 { b.slice("item", tid: tid, ts: Double(k) * 20_000, dur: 20_000) }
            b.cpu(tid: tid, from: 0, to: 400_000, running: { _ in 1 })
        }
        let r = try b.report()
        #expect(r.warnings("cpu-serialized").isEmpty)
        #expect(r.recommendation.model == .threads)
        #expect(!r.recommendation.change)
    }
}

@Suite struct RecommenderTests {
    /// One thread running distinct dependent steps: nothing to overlap.
    @Test func aChainStaysSequential() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        b.slice("pipeline", tid: 1, ts: 0, dur: 300_000)
        for (i, step) in ["parse", "index", "checksum"].enumerated() {
            b.slice(step, tid: 1, ts: Double(i) * 100_000, dur: 100_000)
        }
        b.cpu(tid: 1, from: 0, to: 300_000, running: { _ in 1 })
        let r = try b.report()
        #expect(r.recommendation.model == .sequential)
        #expect(!r.recommendation.change)
    }

    /// One thread running many independent items: spread them (threads in Swift).
    @Test func repeatedItemsHaveSlack() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        for i in 0..<30 { b.slice("item", tid: 1, ts: Double(i) * 10_000, dur: 10_000) }
        b.cpu(tid: 1, from: 0, to: 300_000, running: { _ in 1 })
        let r = try b.report()
        #expect(r.recommendation.model == .threads)
        #expect(r.recommendation.change)
        #expect(r.recommendation.expectedSpeedup > 1.5)
    }

    /// Many slow waits in flight: async.
    @Test func manySlowWaitsGoAsync() throws {
        var b = TraceBuilder()
        for i in 0..<200 {
            b.events.append(#"{"ph":"b","name":"request","cat":"app","pid":1,"id":\#(i),"ts":\#(Double(i) * 100)}"#)
            b.events.append(
                #"{"ph":"e","name":"request","cat":"app","pid":1,"id":\#(i),"ts":\#(Double(i) * 100 + 500_000)}"#)
        }
        b.slice("time.sleep", tid: 1, ts: 0, dur: 500_000)
        b.slice("time.sleep", tid: 2, ts: 0, dur: 500_000)
        let r = try b.report()
        #expect(r.profile.waits?.maxInFlight == 200)
        #expect(r.recommendation.model == .async)
    }
}

/// The invariants every analysis keeps (``AnalysisInvariants``), on traces built to break them
/// in the way real programs did.
@Suite struct InvariantTests {
    /// A thread that computes without spans (only CPU readings) is inside the work window, and
    /// the window's parallelism counts it without exceeding the cores.
    @Test func windowCoversThreadsWithoutSpans() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        b.slice("tick", tid: 1, ts: 0, dur: 1_000)
        b.cpu(tid: 1, from: 0, to: 20_000, running: { _ in 0.05 })
        for tid in [2, 3, 4] { b.cpu(tid: tid, from: 0, to: 1_000_000, running: { _ in 1 }) }
        let r = try b.report()
        #expect(r.profile.window >= 1_000_000_000)
        #expect(r.profile.parallelism <= 2)
        #expect(r.profile.parallelism > 1.8)
    }

    /// Spans are wall time, not CPU: four threads inside work spans on a 2-core machine ran
    /// two at a time, and the rest of their span time was queued for a core.
    @Test func inferredRunningIsCappedAtTheCores() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        for tid in 2...5 { b.slice("work", tid: tid, ts: 0, dur: 100_000) }
        let r = try b.report()
        #expect(abs(r.profile.parallelism - 2) < 0.01)
        let total = r.profile.threadTotal
        #expect(abs(Double(total.running) - 200e6) < 1e6)
        #expect(abs(Double(total.runnable) - 200e6) < 1e6)
        #expect(r.recommendation.expectedSpeedup <= 2 / r.recommendation.currentParallelism + 1e-9)
    }

    /// Waits seconds apart are not a chain, even if their owners form a cycle.
    @Test func chainsLinkOnlyWaitsInProgressTogether() throws {
        var b = TraceBuilder()
        b.threadName("a", tid: 11)
        b.threadName("b", tid: 12)
        for i in 0..<3 {
            b.slice(
                "lock wait", tid: 11, ts: Double(i * 10_000), dur: 5_000, cat: "cctrace.lock",
                args: #"{"lock":"L1","lock_id":1,"owner_tid":12}"#)
        }
        // b waits for L2 (held by a) two seconds later.
        b.slice(
            "lock wait", tid: 12, ts: 2_000_000, dur: 5_000, cat: "cctrace.lock",
            args: #"{"lock":"L2","lock_id":2,"owner_tid":11}"#)
        let r = try b.report()
        #expect(r.analysis.findings.locks.locks.allSatisfy { $0.chain == nil })
    }

    /// A holder cannot wait for the lock it holds: an owner recorded at another moment does
    /// not make a chain through one lock.
    @Test func noChainThroughTheLockItsHolderWaitsFor() throws {
        var b = TraceBuilder()
        for (tid, owner) in [(11, 12), (12, 13)] {
            b.slice(
                "lock wait", tid: tid, ts: 0, dur: 50_000, cat: "cctrace.lock",
                args: #"{"lock":"L","lock_id":1,"owner_tid":\#(owner)}"#)
        }
        let r = try b.report()
        #expect(r.analysis.findings.locks.locks.allSatisfy { $0.chain == nil })
    }

    /// The cores come from the trace, else the options, else the assumption — never from the
    /// machine running the analysis — and the report says which.
    @Test func coresComeFromTheTraceOrTheOptions() throws {
        var b = TraceBuilder()
        b.slice("work", tid: 1, ts: 0, dur: 10_000)
        var options = AnalysisOptions()
        options.assumedCores = 3
        #expect(try b.report(options).profile.coreCount == CoreCount(count: 3, source: .assumed))
        options.cores = 12
        #expect(try b.report(options).profile.coreCount == CoreCount(count: 12, source: .option))
        b.session(cores: 6)
        #expect(try b.report(options).profile.coreCount == CoreCount(count: 6, source: .trace))
    }

    /// A threshold is set by its key, in its unit; a bad key or value is refused.
    @Test func heuristicsAreSetByKey() throws {
        var h = Heuristics()
        try h.set("slow-callback", to: 20)
        #expect(h.slowCallback == TraceDuration(nanoseconds: 20_000_000))
        try h.set("many-waits", to: 50)
        #expect(h.manyWaits == 50)
        #expect(throws: HeuristicError.self) { try h.set("cpu-bound", to: 2) }
        #expect(throws: HeuristicError.self) { try h.set("nope", to: 1) }
        #expect(Set(Heuristics.all.map(\.key)).count == Heuristics.all.count)
        #expect(Heuristics.all.allSatisfy { !$0.reason.isEmpty && !$0.source.isEmpty && !$0.meaning.isEmpty })
    }
}

@Suite struct ProgramShapeTests {
    /// Waits of launcher processes (a shell shim that ran before the program) are not the
    /// program's waits in flight: one chain of work stays sequential.
    @Test func launcherWaitsAreNotTheProgramsWaits() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        b.slice("compute", tid: 10, ts: 60_000, dur: 1_000_000, pid: 10)
        b.cpu(tid: 10, from: 60_000, to: 1_060_000, running: { _ in 1 }, pid: 10)
        for tid in [20, 21] { b.slice("read", tid: tid, ts: 0, dur: 40_000, pid: 20, cat: "cctrace.preload") }
        let r = try b.report()
        #expect(r.profile.launcherProcesses == 1)
        #expect((r.profile.waits?.maxInFlight ?? 0) <= 1)
        #expect(r.recommendation.model == .sequential, "\(r.reasons)")
    }
}

extension ProgramShapeTests {
    /// A server seen from outside: a thread that polls again and again and does the CPU work
    /// is its event loop; a maintenance thread that only sleeps is housekeeping, not work
    /// offloaded from the loop; a loop never blocked with cores to spare is kept.
    @Test func loopWithHousekeepingIsKeptAsync() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        for i in 0..<200 {
            b.slice("epoll_wait", tid: 1, ts: Double(i) * 5_000, dur: 3_000, cat: "cctrace.preload")
        }
        b.events.append(
            #"{"ph":"C","cat":"cctrace.preload","name":"polls 1","pid":1,"tid":1,"ts":999000,"args":{"calls":4000}}"#)
        b.cpu(tid: 1, from: 0, to: 1_000_000, running: { _ in 0.4 })
        for i in 0..<99 { b.slice("usleep", tid: 2, ts: Double(i) * 10_000, dur: 9_900, cat: "cctrace.preload") }
        b.cpu(tid: 2, from: 0, to: 1_000_000, running: { _ in 0.001 })
        let r = try b.report()
        #expect(r.recommendation.current.model == .async, "\(r.currentDetail)")
        #expect(r.recommendation.model == .async)
        #expect(!r.recommendation.change)
    }
}

extension ProgramShapeTests {
    /// One event-loop thread waiting in its poll most of the time is not one chain of work:
    /// the design is kept, not "stay sequential".
    @Test func idleLoopIsNotAChain() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        for i in 0..<100 {
            b.slice("epoll_wait", tid: 1, ts: Double(i) * 10_000, dur: 9_500, cat: "cctrace.preload")
        }
        b.events.append(
            #"{"ph":"C","cat":"cctrace.preload","name":"polls 1","pid":1,"tid":1,"ts":999000,"args":{"calls":300}}"#)
        b.cpu(tid: 1, from: 0, to: 1_000_000, running: { _ in 0.05 })
        let r = try b.report()
        #expect(r.recommendation.current.model == .async, "\(r.currentDetail)")
        #expect(r.recommendation.model == .async, "\(r.reasons)")
    }
}

extension ProgramShapeTests {
    /// One thread computing, seen only through its CPU readings: "stay sequential" is all the
    /// trace supports, with low confidence and the reason said — it could be independent items.
    @Test func computingWithoutSpansIsSequentialWithLowConfidence() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        b.cpu(tid: 1, from: 0, to: 1_000_000, running: { _ in 1 })
        let r = try b.report()
        #expect(r.recommendation.model == .sequential)
        #expect(r.recommendation.confidence == .low)
        #expect(!r.profile.shape.structureKnown)
        #expect(r.reasons.contains { $0.contains("the trace does not show how it is divided") })
        var spans = TraceBuilder()
        spans.session(cores: 2)
        spans.slice("step", tid: 1, ts: 0, dur: 1_000_000)
        spans.cpu(tid: 1, from: 0, to: 1_000_000, running: { _ in 1 })
        let known = try spans.report()
        #expect(known.recommendation.model == .sequential)
        #expect(known.recommendation.confidence != .low)
    }
}

@Suite struct CooperativePoolTests {
    /// Swift's pool as the runtime hooks record it: two `swift-pool-N` threads, each running 20
    /// jobs of 15 ms back to back, with ready jobs waiting `queuedUs` for a thread; CPU
    /// readings at `running`; and, when `stall` is set, a stack read beside each blocked job.
    func pool(running: Double, queuedUs: Double = 5_000, stall: Bool = true) -> TraceBuilder {
        var b = TraceBuilder()
        b.session(cores: 2)
        for tid in [2, 3] {
            b.threadName("swift-pool-\(tid - 1)", tid: tid)
            for i in 0..<20 {
                let ts = 1_000 + Double(i) * 15_000
                let task = tid * 100 + i
                b.slice(
                    "App.handle(request:)", tid: tid, ts: ts, dur: 15_000, cat: "cctrace.task",
                    args: #"{"task_id":\#(task),"queued_us":\#(queuedUs)}"#)
                if stall {
                    b.events.append(
                        #"{"ph":"i","s":"t","cat":"cctrace.sample","name":"loop stall","pid":1,"tid":\#(tid),"ts":\#(ts + 6_000),"args":{"kind":"watchdog","loop":"swift-pool","frames":["clock_nanosleep (blocked in the kernel)","usleep + 0x45 (libc.so.6)","App.legacyFetch(_:) -> Swift.Int + 0x24 (app)","App.handle(request:) + 0x97 (app)"],"locations":["?","/usr/lib/x86_64-linux-gnu/libc.so.6+0xff294","/app+0x63fa3","/app+0x64696"]}}"#
                    )
                }
            }
            b.cpu(tid: tid, from: 0, to: 320_000, step: 20_000, running: { _ in running })
        }
        return b
    }

    /// Jobs that spend their time off a CPU, in the kernel, while others wait: the pool is
    /// blocked, the app's function in the stacks is named, async is kept and the call moves.
    @Test func blockedJobsNameTheAppFunction() throws {
        let r = try pool(running: 0.05).report()
        let f = try #require(r.warnings(CooperativePoolAnalyzer.id).first, "\(r.findings.map(\.summary))")
        #expect(f.summary.contains("App.legacyFetch(_:)"), "\(f.summary)")
        #expect(!f.summary.contains("usleep"))
        #expect(r.recommendation.model == .async)
        guard case .offloadFromPool(let functions) = r.recommendation.action else {
            Issue.record("\(r.recommendation.action)")
            return
        }
        #expect(functions.first?.hasPrefix("App.legacyFetch") == true)
        #expect(r.recommendation.expectedSpeedup > 1)
        #expect(r.profile.taskCount == 40)
    }

    /// The same jobs on a CPU the whole time compute: nothing blocked the pool.
    @Test func computingJobsAreNotBlocking() throws {
        let r = try pool(running: 0.97).report()
        #expect(r.warnings(CooperativePoolAnalyzer.id).isEmpty, "\(r.findings.map(\.summary))")
    }

    /// Blocked jobs that nobody waited for (each job started at once): worth knowing, not a
    /// warning — the pool had nothing else to run.
    @Test func blockingWithNothingWaitingIsInfo() throws {
        let r = try pool(running: 0.05, queuedUs: 20).report()
        #expect(r.warnings(CooperativePoolAnalyzer.id).isEmpty)
        #expect(r.findings.contains { $0.id == CooperativePoolAnalyzer.id && $0.severity == .info })
    }
}

extension CooperativePoolTests {
    /// A pool thread computing 300 ms in one job while short jobs queue behind it for 150 ms:
    /// worth an info naming the long job; a batch of long jobs alone is the pool working.
    func hog(shortJobs: Bool) -> TraceBuilder {
        var b = TraceBuilder()
        b.session(cores: 2)
        for tid in [2, 3] {
            b.threadName("swift-pool-\(tid - 1)", tid: tid)
            b.slice(
                "App.crunch()", tid: tid, ts: 1_000, dur: 300_000, cat: "cctrace.task",
                args: #"{"task_id":\#(tid),"queued_us":10}"#)
            if shortJobs {
                for i in 0..<10 {
                    b.slice(
                        "App.respond()", tid: tid, ts: 301_000 + Double(i) * 1_000, dur: 800, cat: "cctrace.task",
                        args: #"{"task_id":\#(tid * 100 + i),"queued_us":150000}"#)
                }
            }
            b.cpu(tid: tid, from: 0, to: 320_000, step: 20_000, running: { _ in 0.98 })
        }
        return b
    }

    @Test func longComputingJobWithShortJobsWaitingIsNamed() throws {
        let r = try hog(shortJobs: true).report()
        let f = try #require(r.findings.first { $0.id == CooperativePoolAnalyzer.id }, "\(r.findings.map(\.summary))")
        #expect(f.severity == .info)
        #expect(f.summary.contains("without a suspension point"))
        #expect(
            f.evidence.contains { if case .poolHog(let name, _) = $0.kind { name == "App.crunch()" } else { false } })
    }

    @Test func batchOfLongJobsIsThePoolWorking() throws {
        let r = try hog(shortJobs: false).report()
        #expect(!r.findings.contains { $0.id == CooperativePoolAnalyzer.id && $0.severity != .ok })
    }
}

@Suite struct ActorContentionTests {
    /// Runs of an actor's queue (there only because tasks found it busy) on a CPU for most of
    /// the window: the program serializes on the actor; a rarely contended one is no warning.
    func actorRuns(count: Int, each: Double) -> TraceBuilder {
        var b = TraceBuilder()
        b.session(cores: 2)
        b.threadName("swift-pool-1", tid: 2)
        for i in 0..<count {
            b.slice(
                "actor Cache", tid: 2, ts: 1_000 + Double(i) * 10_000, dur: each, cat: "cctrace.task",
                args: #"{"actor":"Cache@0x1000","queued_us":50,"awaited_from":"App.handle(_:)"}"#)
        }
        b.cpu(tid: 2, from: 0, to: 1_000 + Double(count) * 10_000, running: { _ in 0.95 })
        return b
    }

    @Test func busyActorIsContention() throws {
        let r = try actorRuns(count: 30, each: 9_000).report()
        let f = try #require(r.warnings(ActorContentionAnalyzer.id).first, "\(r.findings.map(\.summary))")
        #expect(f.subject == "Cache@0x1000")
        #expect(f.summary.contains("App.handle(_:)"))
    }

    @Test func rarelyBusyActorIsNoWarning() throws {
        let r = try actorRuns(count: 30, each: 500).report()
        #expect(r.warnings(ActorContentionAnalyzer.id).isEmpty, "\(r.findings.map(\.summary))")
    }
}
