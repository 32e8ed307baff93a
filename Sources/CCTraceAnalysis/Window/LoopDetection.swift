import CCTraceFormat

/// An event loop as the analysis sees it: cctrace's loops (`cctrace.loop` slices, `loop lag`
/// counters), a traced task pool's heartbeat, or a loop recognized by shape in other tools'
/// traces (Python asyncio's `_run_once` iterations running `Handle._run` callbacks).
public struct LoopView: Sendable {
    /// Where the loop was found.
    public enum Source: String, Sendable {
        case cctrace, asyncio
        /// A thread that `cctrace record` saw poll again and again (epoll_wait, poll, select):
        /// the program's event loop, whatever its language; its other long calls blocked it.
        case polling
        /// A task pool's heartbeat (cctrace's `cctrace-pool`): lag, no callbacks of its own.
        case pool
    }

    public var name: String
    public var pid: Int64
    /// The loop's thread (index into ``TraceModel/threads``), or -1 when it has no callbacks.
    public var thread: Int
    public var source: Source
    /// Callback/tick slices (indexes into ``TraceModel/slices``).
    public var callbacks: [Int]
    /// The lag counter (index into ``TraceModel/counters``), when recorded.
    public var lagCounter: Int?
    /// The most callbacks one loop iteration ran (asyncio): how many waits completed together.
    public var readyBurst: Int

    /// Every loop in `model`.
    public static func find(in model: TraceModel, heuristics h: Heuristics) -> [LoopView] {
        find(in: model, names: model.sliceNames(), heuristics: h)
    }

    /// The event loops of `model`, whose slices' pairs are `names`.
    public static func find(in model: TraceModel, names: SliceNames, heuristics h: Heuristics) -> [LoopView] {
        var loops: [LoopView] = []
        for info in model.eventLoops {
            let thread = info.callbacks.first.map { model.slices[$0].thread } ?? -1
            let isPool = info.callbacks.isEmpty
            loops.append(
                LoopView(
                    name: info.name, pid: info.pid, thread: thread, source: isPool ? .pool : .cctrace,
                    callbacks: info.callbacks, lagCounter: info.lag, readyBurst: 0))
        }
        // asyncio: `Handle._run` slices (and `_run_once` iterations around them).
        var byThread: [Int: [Int]] = [:]
        let loopCategory = TraceCategory.loop.rawValue
        for i in names.slices(where: {
            CPython.isLoopCallback(SliceClassifier.baseName($0)) && $1 != loopCategory
        }) {
            byThread[model.slices[i].thread, default: []].append(i)
        }
        for (thread, callbacks) in byThread.sorted(by: { $0.key < $1.key }) where callbacks.count >= 2 {
            var perIteration: [Int: Int] = [:]
            for c in callbacks { perIteration[model.slices[c].parent, default: 0] += 1 }
            let t = model.threads[thread]
            loops.append(
                LoopView(
                    name: "asyncio loop on \(t.label)", pid: t.pid, thread: thread, source: .asyncio,
                    callbacks: callbacks, lagCounter: nil, readyBurst: perIteration.values.max() ?? 0))
        }
        // Only the shim's slices can make a polling loop's iterations and polls.
        let shim = names.any { $1 == TraceCategory.preload.rawValue }
        loops += pollingLoops(in: model, known: Set(loops.map(\.thread)), shimSlices: shim, heuristics: h)
        return loops
    }

    /// Event loops seen from outside (preload traces): a thread that polled often
    /// (``Heuristics/loopPollCalls`` poll-family calls, or ``Heuristics/loopPollShare`` of its
    /// life in recorded ones) and also did ``Heuristics/loopCPUShare`` of its process's CPU
    /// work (a pool's housekeeping thread polls too, but does nothing else) or spent
    /// ``Heuristics/loopPollShare`` of its life in long iterations. Its callbacks are the long
    /// iterations the shim recorded (`loop iteration`), or, in traces without them, its
    /// recorded calls other than polls.
    static func pollingLoops(
        in model: TraceModel, known: Set<Int>, shimSlices: Bool = true, heuristics h: Heuristics
    ) -> [LoopView] {
        let pollNames = POSIXCalls.pollCalls
        let pollsPrefix = TraceVocabulary.Event.pollsPrefix.string
        var cpuByPid: [Int64: Double] = [:]
        var cpuByThread: [Int: Double] = [:]
        for (i, t) in model.threads.enumerated() {
            let running = Double(t.cpu?.usage(in: model.bounds).running.nanoseconds ?? 0)
            cpuByThread[i] = running
            cpuByPid[t.pid, default: 0] += running
        }
        // `polls <tid>` counters: how many poll-family calls each thread made, of any length.
        var pollCalls: [Int: Double] = [:]
        var threadIndex: [String: Int] = [:]
        for (i, t) in model.threads.enumerated() { threadIndex["\(t.pid)/\(t.tid)"] = i }
        for c in model.counters where c.counter.hasPrefix(pollsPrefix) {
            if let tid = Int64(c.counter.dropFirst(pollsPrefix.count)), let i = threadIndex["\(c.pid)/\(tid)"] {
                pollCalls[i] = max(pollCalls[i] ?? 0, c.points.map(\.1).max() ?? 0)
            }
        }
        let iterationName = TraceVocabulary.Event.loopIteration.string
        var loops: [LoopView] = []
        for (i, t) in model.threads.enumerated() where !known.contains(i) {
            var polling: Int64 = 0
            var lo = Int64.max
            var hi = Int64.min
            var others: [Int] = []
            // Iterations the shim recorded (from the loop's poll back to it, when long): the
            // calls that blocked are inside them, and so is the loop's own computing.
            var iterations: [Int] = []
            var iterating: Int64 = 0
            // Without the shim's slices nothing below counts: no polls, no iterations (and the
            // thread's span only weighs those).
            for k in t.sliceRange where shimSlices {
                lo = min(lo, model.slices[k].start.nanoseconds)
                hi = max(hi, model.slices[k].end.nanoseconds)
                guard model.slices[k].depth == 0, model.slices[k].category == TraceCategory.preload.rawValue else {
                    continue
                }
                let s = model.slices[k]
                if s.name == iterationName {
                    iterations.append(k)
                    iterating += s.duration.nanoseconds
                } else if pollNames.contains(s.name) {
                    polling += s.duration.nanoseconds
                } else {
                    others.append(k)
                }
            }
            if let samples = t.cpu?.samples, let first = samples.first, let last = samples.last {
                lo = min(lo, first.start.nanoseconds)
                hi = max(hi, last.end.nanoseconds)
            }
            let polledOften =
                (pollCalls[i] ?? 0) >= Double(h.loopPollCalls)
                || (polling > 0 && hi > lo && Double(polling) >= h.loopPollShare * Double(hi - lo))
            // A thread that polls but does nothing else is housekeeping (a pool's timer): a loop
            // does a share of its process's work — or spent a share of its life in long
            // iterations (a loop stalled by sleeps or calls does little CPU work, but it is the
            // program's loop and it was stuck).
            let mine = cpuByThread[i] ?? 0
            let all = cpuByPid[t.pid] ?? 0
            let works = all > 0 && mine >= h.loopCPUShare * all
            let stalls = hi > lo && Double(iterating) >= h.loopPollShare * Double(hi - lo)
            guard polledOften, works || stalls else { continue }
            loops.append(
                LoopView(
                    name: "event loop on \(t.label)", pid: t.pid, thread: i, source: .polling,
                    callbacks: iterations.isEmpty ? others : iterations, lagCounter: nil, readyBurst: 0))
        }
        return loops
    }
}
